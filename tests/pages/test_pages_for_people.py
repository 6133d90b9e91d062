"""Issue 12 without a browser, on both databases: dead ends, API docs served from the
installation, reopening registration, messages with wishes, names instead of keys."""

from __future__ import annotations

import warnings
from datetime import timedelta

from sqlalchemy import select

from matchmaking.platform.models import EventStatus, Wish, WishStatus, utcnow
from matchmaking.platform.wording import KeyNames, fold, reason_words
from tests.calendars.builders import add_version
from tests.pages.conftest import Site, csrf_of

HTML = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}


def test_unknown_address_answers_a_page_to_browsers_and_problem_json_to_api_clients(
    site: Site,
) -> None:
    client = site.client()
    page = client.get("/nowhere/at/all", headers=HTML)
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Page not found" in page.text
    assert "content-security-policy" in page.headers
    api = client.get("/nowhere/at/all", headers={"Accept": "application/json"})
    assert api.status_code == 404
    assert api.headers["content-type"] == "application/problem+json"
    assert api.json()["detail"] == "There is nothing at /nowhere/at/all."
    under_api = client.get("/api/v1/nowhere", headers=HTML)
    assert under_api.headers["content-type"] == "application/problem+json"


def test_dashboard_without_a_session_offers_sign_in_and_comes_back(site: Site) -> None:
    client = site.client()
    dashboard = f"/organiser/e/{site.slug}"
    page = client.get(dashboard, headers=HTML)
    assert page.status_code == 401
    assert 'name="next" value="/organiser/e/eu-canada-2024"' in page.text
    assert 'id="token"' in page.text
    csrf = csrf_of(client, "/organiser/login")
    signed_in = client.post(
        "/organiser/login",
        data={"csrf_token": csrf, "token": site.organiser_token, "next": dashboard},
    )
    assert signed_in.status_code == 303
    assert signed_in.headers["location"] == dashboard
    for target in ("https://evil.example/organiser", "//evil.example/organiser"):
        # Signing in starts a new browser session, so each attempt starts from a new browser.
        elsewhere = site.client()
        csrf = csrf_of(elsewhere, "/organiser/login")
        answer = elsewhere.post(
            "/organiser/login",
            data={"csrf_token": csrf, "token": site.organiser_token, "next": target},
        )
        assert answer.headers["location"] == "/organiser"


def test_bad_personal_link_and_participant_pages_link_the_lost_link_form(site: Site) -> None:
    client = site.client()
    bad = client.get(f"/e/{site.slug}/login", params={"token": "mmp_unknown"})
    assert bad.status_code == 401
    assert f'href="/e/{site.slug}/link"' in bad.text
    assert f'href="/e/{site.slug}/link"' in client.get(f"/e/{site.slug}/me").text
    form = client.get(f"/e/{site.slug}/link")
    assert form.status_code == 200
    assert 'action="/e/eu-canada-2024/link"' in form.text


def test_api_docs_load_swagger_ui_from_this_server_only(site: Site) -> None:
    client = site.client()
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200
    assert "cdn" not in docs.text.lower()
    assert "https://" not in docs.text
    for asset, media in (
        ("swagger-ui-bundle.js", "text/javascript"),
        ("swagger-ui.css", "text/css"),
    ):
        answer = client.get(f"/api/v1/docs/assets/{asset}")
        assert answer.status_code == 200
        assert answer.headers["content-type"].startswith(media)
        assert len(answer.content) > 100_000
    assert client.get("/api/v1/docs/assets/../../settings.py").status_code == 404
    assert client.get("/api/v1/docs/assets/swagger-editor.js").status_code == 404


def test_openapi_document_has_one_operation_id_per_operation_without_warnings(
    site: Site,
) -> None:
    site.app.openapi_schema = None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        schema = site.app.openapi()
    ids = [
        operation["operationId"]
        for item in schema["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    ]
    assert len(ids) == len(set(ids))
    feed = schema["paths"]["/calendars/participants/{token}.ics"]
    assert feed["get"]["operationId"] == "participant_calendar"
    assert feed["head"]["operationId"] == "participant_calendar_head"


def _published(site: Site, closes_in: timedelta | None) -> None:
    event = site.built.event
    add_version(site.session, site.built, [("w1", "s1", "t1", "p1", "p2")], published_at=utcnow())
    event.status = EventStatus.published
    event.registration_closes = utcnow() + closes_in if closes_in is not None else None
    site.session.commit()


def test_registration_reopens_after_publishing_before_its_deadline(site: Site) -> None:
    _published(site, timedelta(days=2))
    client = site.client()
    owner = {"Authorization": f"Bearer {site.organiser_token}"}
    opened = client.post(f"/api/v1/events/{site.slug}/open", headers=owner)
    assert opened.status_code == 200
    assert opened.json()["status"] == "open"
    public = client.get(f"/api/v1/events/{site.slug}/public")
    assert public.status_code == 200
    assert public.json()["registration_open"] is True
    again = client.post(f"/api/v1/events/{site.slug}/open", headers=owner)
    assert again.status_code == 409


def test_registration_stays_closed_after_its_deadline_and_the_page_says_why(site: Site) -> None:
    _published(site, timedelta(days=-1))
    client = site.client()
    owner = {"Authorization": f"Bearer {site.organiser_token}"}
    refused = client.post(f"/api/v1/events/{site.slug}/open", headers=owner)
    assert refused.status_code == 409
    assert refused.json()["errors"][0]["field"] == "registration_closes"
    site.sign_in_organiser(client)
    csrf = csrf_of(client, f"/organiser/e/{site.slug}")
    page = client.post(
        f"/organiser/e/{site.slug}/registration", data={"csrf_token": csrf, "action": "open"}
    )
    assert page.status_code == 409
    assert "registration deadline has passed" in page.text
    with site.read() as db:
        assert db.get(type(site.built.event), site.built.event.id).status is EventStatus.published


def test_publishing_keeps_registration_open_when_it_was_reopened(site: Site) -> None:
    from matchmaking.planning.publishing import publish_version

    _published(site, timedelta(days=2))
    site.built.event.status = EventStatus.open
    second = add_version(site.session, site.built, [("w1", "s2", "t1", "p1", "p2")])
    publish_version(site.session, second, force=True)
    site.session.commit()
    assert site.built.event.status is EventStatus.open


def test_a_wish_carries_a_message_that_is_stored_escaped_and_length_limited(site: Site) -> None:
    client = site.client()
    site.sign_in(client, "p1")
    csrf = csrf_of(client, f"/e/{site.slug}/directory")
    back = f"/e/{site.slug}/directory?q=person&page=1"
    too_long = client.post(
        f"/e/{site.slug}/wishes",
        data={"csrf_token": csrf, "to": "p2", "priority": "2", "message": "x" * 2001},
    )
    assert too_long.status_code == 422
    assert "at most 2000" in too_long.text
    sent = client.post(
        f"/e/{site.slug}/wishes",
        data={
            "csrf_token": csrf,
            "to": "p2",
            "priority": "1",
            "message": "<script>alert(1)</script>\x07 Let's meet",
            "back": back,
        },
    )
    assert sent.status_code == 303
    assert sent.headers["location"] == f"{back}&sent=p2#person-p2"
    with site.read() as db:
        wish = db.scalar(select(Wish))
        assert wish is not None
        assert wish.message == "<script>alert(1)</script> Let's meet"
    reader = site.client()
    site.sign_in(reader, "p2")
    inbox = reader.get(f"/e/{site.slug}/inbox").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; Let&#39;s meet" in inbox
    assert "<script>alert" not in inbox
    offsite = client.post(
        f"/e/{site.slug}/wishes",
        data={"csrf_token": csrf, "to": "p3", "priority": "2", "back": "https://evil.example/"},
    )
    assert offsite.headers["location"] == f"/e/{site.slug}/wishes"


def test_directory_search_ignores_accents_and_case(site: Site) -> None:
    site.built.participants["p3"].organisation.name = "Grappe IA de Montréal"
    site.built.participants["p4"].name = "Zoë Ångström"
    site.session.commit()
    client = site.client()
    site.sign_in(client, "p1")
    for query, expected in (("montreal", "Grappe IA de Montréal"), ("ANGSTROM zoe", "Zoë")):
        page = client.get(f"/e/{site.slug}/directory", params={"q": query}).text
        assert expected in page
        assert "1–1 of 1 participant" in page


def test_reasons_and_sentences_of_the_solver_speak_in_names_and_times(site: Site) -> None:
    with site.read() as db:
        names = KeyNames.of_event(db, site.built.event.id)
    sentence = names.words("p1 and p2 already meet in slot s3 (wish w9), session d1; o4 full")
    assert sentence == (
        "Person 1 (Cluster 1) and Person 2 (Company 2) already meet in slot "
        "Sat 26 Oct 09:50–10:10 (wish w9), session Day 1; Company 4 full"
    )
    assert reason_words("participant_at_cap") == "the most meetings allowed are reached"
    assert reason_words("some_new_reason") == "some new reason"
    assert fold("Montréal ÅKESSON Straße") == "montreal akesson strasse"


def test_inbox_shows_requests_waiting_for_an_answer_first(site: Site) -> None:
    people = site.built.participants
    for key, sender, status, priority in (
        ("w1", "p3", WishStatus.accepted, 1),
        ("w2", "p4", WishStatus.requested, 3),
        ("w3", "p5", WishStatus.requested, 1),
    ):
        site.session.add(
            Wish(
                event=site.built.event,
                key=key,
                sender=people[sender],
                recipient=people["p1"],
                priority=priority,
                status=status,
            )
        )
    site.session.commit()
    client = site.client()
    site.sign_in(client, "p1")
    page = client.get(f"/e/{site.slug}/inbox").text
    order = [page.index(f'id="wish-{key}"') for key in ("w3", "w2", "w1")]
    assert order == sorted(order)
    assert "2</strong> requests wait for your answer" in page


def test_only_the_events_organisers_may_open_or_close_its_registration(site: Site) -> None:
    from matchmaking.platform.models import ApiToken, Organiser
    from matchmaking.platform.security import hash_token, new_token

    stranger_token = new_token("mmo")
    stranger = Organiser(email="stranger@example.org", name="Stranger")
    site.session.add_all(
        [stranger, ApiToken(organiser=stranger, token_hash=hash_token(stranger_token), prefix="x")]
    )
    site.session.commit()
    target = f"/organiser/e/{site.slug}/registration"
    participant = site.client()
    site.sign_in(participant, "p1")
    csrf = csrf_of(participant, f"/e/{site.slug}/me")
    as_participant = participant.post(target, data={"csrf_token": csrf, "action": "close"})
    assert as_participant.status_code == 401
    assert "Organiser sign-in" in as_participant.text
    other = site.client()
    csrf = csrf_of(other, "/organiser/login")
    signed_in = other.post("/organiser/login", data={"csrf_token": csrf, "token": stranger_token})
    assert signed_in.status_code == 303
    csrf = csrf_of(other, "/organiser")
    as_stranger = other.post(target, data={"csrf_token": csrf, "action": "close"})
    assert as_stranger.status_code == 404
    with site.read() as db:
        assert db.get(type(site.built.event), site.built.event.id).status is EventStatus.open
    owner = site.client()
    site.sign_in_organiser(owner)
    csrf = csrf_of(owner, f"/organiser/e/{site.slug}")
    closed = owner.post(target, data={"csrf_token": csrf, "action": "close"})
    assert closed.status_code == 303
    with site.read() as db:
        assert db.get(type(site.built.event), site.built.event.id).status is EventStatus.closed
