"""Participant pages: registration, personal link, directory, wishes, inbox, agenda."""

from __future__ import annotations

from sqlalchemy import func, select

from api.schemas.schedules import agenda_json
from matchmaking.delivery import rendered
from matchmaking.planning.publishing import publish_version
from matchmaking.platform.models import Participant, RenderedDocument, Wish, WishStatus
from tests.calendars.builders import add_version, at
from tests.pages.conftest import Site, csrf_of

GOOD_REGISTRATION = {
    "organisation_name": "Acme Quantum",
    "organisation_kind": "company",
    "country": "de",
    "sectors": "Quantum, Photonics",
    "focus_areas": "Quantum Technology",
    "name": "Ann Example",
    "email": "ann@example.org",
    "attendance": "online",
    "timezone": "America/Vancouver",
    "sessions": ["d1"],
    "listed": "yes",
    "consent": "yes",
}


def _participants(site: Site) -> int:
    with site.read() as db:
        return db.scalar(select(func.count()).select_from(Participant)) or 0


def test_registration_errors_name_each_field_and_keep_what_was_typed(site: Site) -> None:
    client = site.client()
    token = csrf_of(client, f"/e/{site.slug}/register")
    typed = {**GOOD_REGISTRATION, "email": "not-an-address", "country": "Germany", "consent": ""}
    response = client.post(f"/e/{site.slug}/register", data={"csrf_token": token, **typed})

    assert response.status_code == 422
    page = response.text
    assert 'id="email-error"' in page
    assert "valid e-mail address" in page
    assert 'id="country-error"' in page
    assert "two-letter country code" in page
    assert "Agree to the use of your data" in page
    assert 'value="not-an-address"' in page
    assert 'value="Acme Quantum"' in page
    assert 'value="Quantum Technology" checked' in page
    assert 'aria-invalid="true"' in page
    assert _participants(site) == 6


def test_registration_without_the_forms_csrf_token_is_refused_and_stores_nothing(
    site: Site,
) -> None:
    client = site.client()
    csrf_of(client, f"/e/{site.slug}/register")  # the cookie alone is not enough
    forged = client.post(f"/e/{site.slug}/register", data=GOOD_REGISTRATION)
    wrong = client.post(
        f"/e/{site.slug}/register", data={**GOOD_REGISTRATION, "csrf_token": "0" * 64}
    )
    assert forged.status_code == wrong.status_code == 403
    assert "text/html" in forged.headers["content-type"]
    assert _participants(site) == 6


def test_registration_confirms_with_the_personal_link_which_signs_in(site: Site) -> None:
    client = site.client()
    token = csrf_of(client, f"/e/{site.slug}/register")
    response = client.post(
        f"/e/{site.slug}/register", data={"csrf_token": token, **GOOD_REGISTRATION}
    )
    assert response.status_code == 200
    assert "You are registered, Ann Example" in response.text
    link = response.text.split('id="personal-link" href="')[1].split('"')[0]
    assert link.startswith(f"http://testserver/e/{site.slug}/login?token=mmp_")

    with site.read() as db:
        ann = db.scalar(select(Participant).where(Participant.email == "ann@example.org"))
        assert ann is not None
        assert ann.organisation.country == "DE"
        assert ann.organisation.focus_areas == ["Quantum Technology"]
        assert {s.key for s in ann.unavailable_slots} == {"s5", "s6", "s7", "s8"}  # day 2 out

    browser = site.client()
    signed_in = browser.get(link.removeprefix("http://testserver"))
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == f"/e/{site.slug}/me"
    cookie = signed_in.headers["set-cookie"]
    assert "mm_participant=mms_" in cookie
    assert "mmp_" not in cookie
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    agenda = browser.get(f"/e/{site.slug}/me")
    assert agenda.status_code == 200
    assert "Agenda of Ann Example" in agenda.text


def test_unknown_personal_link_and_missing_sign_in_get_a_helpful_page(site: Site) -> None:
    client = site.client()
    bad = client.get(f"/e/{site.slug}/login", params={"token": "mmp_nope"})
    assert bad.status_code == 401
    assert "does not work" in bad.text
    anonymous = client.get(f"/e/{site.slug}/directory")
    assert anonymous.status_code == 401
    assert "personal link" in anonymous.text


def test_wish_sent_from_the_directory_is_accepted_in_the_recipients_inbox(site: Site) -> None:
    sender, recipient = site.client(), site.client()
    site.sign_in(sender, "p1")
    site.sign_in(recipient, "p2")

    directory = sender.get(f"/e/{site.slug}/directory", params={"kind": "company"})
    assert "Person 2" in directory.text
    assert "Person 3" not in directory.text
    token = csrf_of(sender, f"/e/{site.slug}/directory")
    sent = sender.post(
        f"/e/{site.slug}/wishes", data={"csrf_token": token, "to": "p2", "priority": "1"}
    )
    assert sent.status_code == 303
    with site.read() as db:
        wish = db.scalar(select(Wish))
        assert wish is not None
        assert (wish.priority, wish.status) == (1, WishStatus.requested)
    assert "requested" in sender.get(f"/e/{site.slug}/wishes").text

    inbox_token = csrf_of(recipient, f"/e/{site.slug}/inbox")
    assert "Person 1" in recipient.get(f"/e/{site.slug}/inbox").text
    answered = recipient.post(
        f"/e/{site.slug}/wishes/{wish.key}", data={"csrf_token": inbox_token, "action": "accept"}
    )
    assert answered.status_code == 303
    with site.read() as db:
        assert db.scalar(select(Wish.status)) == WishStatus.accepted

    # The sender cannot answer its own wish; the page says why.
    refused = sender.post(
        f"/e/{site.slug}/wishes/{wish.key}", data={"csrf_token": token, "action": "decline"}
    )
    assert refused.status_code == 409
    assert "recipient" in refused.text


def test_agenda_lists_published_meetings_with_video_link_and_the_viewers_own_time(
    site: Site,
) -> None:
    online = site.built.participants["p6"]
    online.timezone = "America/Toronto"
    add_version(
        site.session,
        site.built,
        [("eu-w1", "s1", "t1", "p6", "p1"), ("eu-w2", "s5", "video", "p6", "p2")],
        published_at=at(20),
    )
    site.session.commit()
    client = site.client()
    site.sign_in(client, "p6")
    page = client.get(f"/e/{site.slug}/me").text

    assert page.index("Person 1") < page.index("Person 2")  # in time order
    assert "09:00" in page
    assert "03:00–03:20 your time" in page
    assert 'href="https://video.example.org/rooms/eu-w2"' in page
    assert "Cluster 1 (CA)" in page
    assert "C2B" in page
    assert f'href="/api/v1/events/{site.slug}/me/calendar.ics"' in page
    ics = client.get(f"/api/v1/events/{site.slug}/me/calendar.ics")
    assert ics.status_code == 200
    assert ics.content.count(b"BEGIN:VEVENT") == 2

    token = csrf_of(client, f"/e/{site.slug}/me")
    links = client.post(f"/e/{site.slug}/me/calendar", data={"csrf_token": token})
    assert links.status_code == 200
    assert "webcal://testserver/calendars/participants/mmc_" in links.text


def test_pages_escape_user_text_and_send_security_headers(site: Site) -> None:
    evil = site.built.participants["p2"]
    evil.name = '<script>alert("x")</script>'
    site.session.commit()
    client = site.client()
    site.sign_in(client, "p1")
    page = client.get(f"/e/{site.slug}/directory")
    assert "<script>alert" not in page.text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page.text
    headers = page.headers
    assert "default-src 'self'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert client.get("/static/style.css").headers["content-type"].startswith("text/css")
    assert client.get("/static/..%2Fapp.py").status_code == 404


def test_second_registration_with_the_same_address_is_refused_at_the_email_field(
    site: Site,
) -> None:
    client = site.client()
    token = csrf_of(client, f"/e/{site.slug}/register")
    taken = {**GOOD_REGISTRATION, "email": "p1@example.org"}
    response = client.post(f"/e/{site.slug}/register", data={"csrf_token": token, **taken})
    assert response.status_code == 422
    assert 'id="email-error"' in response.text
    assert "registered already" in response.text
    assert _participants(site) == 6


def test_lost_link_form_answers_alike_and_replaces_a_known_participants_link(
    site: Site,
) -> None:
    owner = site.client()
    site.sign_in(owner, "p1")
    assert owner.get(f"/e/{site.slug}/me").status_code == 200

    client = site.client()
    token = csrf_of(client, f"/e/{site.slug}")
    known = client.post(
        f"/e/{site.slug}/link", data={"csrf_token": token, "email": "p1@example.org"}
    )
    unknown = client.post(
        f"/e/{site.slug}/link", data={"csrf_token": token, "email": "nobody@example.org"}
    )
    assert known.status_code == unknown.status_code == 200
    assert "Check your e-mail" in known.text
    assert "Check your e-mail" in unknown.text
    assert owner.get(f"/e/{site.slug}/me").status_code == 401  # the old link stopped working


def test_the_agenda_page_shows_the_agenda_stored_at_publication_until_something_changes(
    site: Site,
) -> None:
    client = site.client()
    site.sign_in(client, "p1")
    version = add_version(site.session, site.built, [("m1", "s1", "t1", "p1", "p2")])
    publish_version(site.session, version, force=True, now=at(20))
    stored = rendered.store_event_documents(site.session, site.built.event, agenda_json)
    assert stored > 0
    site.session.commit()
    # The page is built from what publication stored: a mark put into the stored agenda
    # shows, so the page did not build the agenda again.
    with site.read() as db:
        document = db.scalars(
            select(RenderedDocument).where(
                RenderedDocument.kind == "agenda",
                RenderedDocument.key == str(site.built.participants["p1"].id),
            )
        ).one()
        assert b'"name":"Person 2"' in document.body
        document.body = document.body.replace(b'"name":"Person 2"', b'"name":"Stored Person 2"')
        db.commit()
    page = client.get(f"/e/{site.slug}/me")
    assert page.status_code == 200, page.text
    assert "<strong>Stored Person 2</strong>" in page.text
    # A change the agenda shows leaves the stored one unused: the page builds it afresh.
    site.built.participants["p2"].name = "Renamed Person 2"
    site.session.commit()
    page = client.get(f"/e/{site.slug}/me")
    assert "<strong>Renamed Person 2</strong>" in page.text
    assert "Stored Person 2" not in page.text
