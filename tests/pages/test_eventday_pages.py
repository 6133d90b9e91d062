"""The event day's pages (api/pages/eventday.py): check-in on a phone, the QR code of the
agenda and the badges, and who may not."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from matchmaking.onsite import checkin
from matchmaking.platform.models import (
    Absence,
    CheckIn,
    MeetingAttendance,
    MeetingFeedback,
    OutboxMail,
    Participant,
    SolveJob,
    Wish,
    WishStatus,
)
from tests.calendars.builders import add_version, at
from tests.pages.conftest import Site, csrf_of


def _arrived(site: Site) -> set[int]:
    with site.read() as db:
        return set(db.scalars(select(CheckIn.participant_id)))


def test_staff_search_a_name_mark_arrived_and_undo(site: Site) -> None:
    client = site.client()
    site.sign_in_organiser(client)
    page = client.get(f"/organiser/e/{site.slug}/check-in", params={"q": "person 2"})
    assert page.status_code == 200
    assert "Person 2" in page.text
    assert "Person 3" not in page.text
    assert 'name="viewport"' in page.text
    assert "0 of 6" in page.text
    csrf = csrf_of(client, f"/organiser/e/{site.slug}/check-in")

    done = client.post(
        f"/organiser/e/{site.slug}/check-in/p2",
        data={"csrf_token": csrf, "action": "arrive", "back": "search", "q": "person 2"},
    )
    assert done.status_code == 303
    assert "q=person+2" in done.headers["location"]
    assert _arrived(site) == {site.built.participants["p2"].id}
    after = client.get(done.headers["location"]).text
    assert "Person 2 (Company 2) has arrived." in after
    assert "1 of 6" in after
    assert "Undo the arrival of Person 2" in after

    undone = client.post(
        f"/organiser/e/{site.slug}/check-in/p2", data={"csrf_token": csrf, "action": "undo"}
    )
    assert undone.status_code == 303
    assert _arrived(site) == set()
    person = client.get(undone.headers["location"]).text
    assert "Not arrived yet." in person
    assert "Mark arrived" in person


def test_the_agenda_and_the_badge_carry_the_code_of_the_check_in_page(site: Site) -> None:
    client = site.client()
    person = site.sign_in(client, "p1")
    url = checkin.check_in_url("http://testserver", site.built.event, person)
    assert url == f"http://testserver/organiser/e/{site.slug}/check-in/p1"
    code = checkin.qr_svg(url, title="Check-in code of Person 1")
    agenda = client.get(f"/e/{site.slug}/me").text
    assert code in agenda
    assert "Your check-in code" in agenda
    badge = client.get(f"/e/{site.slug}/me/badge")
    assert badge.status_code == 200
    assert code in badge.text
    # The code's page is for staff: the participant is asked to sign in as an organiser.
    assert client.get(f"/organiser/e/{site.slug}/check-in/p1").status_code == 401

    staff = site.client()
    site.sign_in_organiser(staff)
    badges = staff.get(f"/organiser/e/{site.slug}/badges").text
    assert code in badges
    assert badges.count('class="badge"') == 6
    page = staff.get(f"/organiser/e/{site.slug}/check-in/p1").text
    assert "Person 1" in page
    assert "Not arrived yet." in page


def test_who_may_not_check_in_on_the_pages(site: Site) -> None:
    anonymous = site.client()
    assert anonymous.get(f"/organiser/e/{site.slug}/check-in").status_code == 401
    participant = site.client()
    site.sign_in(participant, "p1")
    csrf = csrf_of(participant, f"/e/{site.slug}/me")
    refused = participant.post(
        f"/organiser/e/{site.slug}/check-in/p1", data={"csrf_token": csrf, "action": "arrive"}
    )
    assert refused.status_code == 401
    assert _arrived(site) == set()

    client = site.client()
    site.sign_in_organiser(client)
    assert client.get(f"/organiser/e/{site.slug}/check-in/nobody").status_code == 404
    csrf = csrf_of(client, f"/organiser/e/{site.slug}/check-in")
    bad = client.post(
        f"/organiser/e/{site.slug}/check-in/p1", data={"csrf_token": csrf, "action": "fly"}
    )
    assert bad.status_code == 422
    assert _arrived(site) == set()


# --- attendance of meetings ------------------------------------------------------------------


def _published(site: Site) -> None:
    """Person 1 & Person 2 at Table 1, Person 3 & Person 4 at Table 2 (day 1, 09:00)."""
    add_version(
        site.session,
        site.built,
        [("m-a", "s1", "t1", "p1", "p2"), ("m-b", "s1", "t2", "p3", "p4")],
        published_at=at(20),
    )
    site.session.commit()


def _marks(site: Site) -> dict[str, tuple[str, str | None]]:
    with site.read() as db:
        return {
            r.uid: (r.outcome.value, r.absent.key if r.absent else None)
            for r in db.scalars(select(MeetingAttendance))
        }


def test_a_participant_marks_a_no_show_and_staff_correct_it(site: Site) -> None:
    _published(site)
    client = site.client()
    site.sign_in(client, "p1")
    agenda = client.get(f"/e/{site.slug}/me").text
    assert 'id="meeting-m-a"' in agenda
    assert "Person 2 did not come" in agenda
    csrf = csrf_of(client, f"/e/{site.slug}/me")
    done = client.post(
        f"/e/{site.slug}/me/meetings/m-a/attendance",
        data={"csrf_token": csrf, "action": "absent:p2"},
    )
    assert done.status_code == 303
    assert _marks(site) == {"m-a": ("no_show", "p2")}
    assert "Person 2 did not come" in client.get(done.headers["location"]).text
    # Someone else's meeting is not found, and nothing changes.
    other = client.post(
        f"/e/{site.slug}/me/meetings/m-b/attendance", data={"csrf_token": csrf, "action": "held"}
    )
    assert other.status_code == 404
    assert _marks(site) == {"m-a": ("no_show", "p2")}

    staff = site.client()
    site.sign_in_organiser(staff)
    page = staff.get(f"/organiser/e/{site.slug}/meetings").text
    assert "Person 1</strong> (Cluster 1) &amp; <strong>Person 2" in page
    assert "No-show: Person 2 did not come" in page
    token = csrf_of(staff, f"/organiser/e/{site.slug}/meetings")
    fixed = staff.post(
        f"/organiser/e/{site.slug}/meetings/m-a/attendance",
        data={"csrf_token": token, "action": "held"},
    )
    assert fixed.status_code == 303
    assert _marks(site) == {"m-a": ("held", None)}
    bad = staff.post(
        f"/organiser/e/{site.slug}/meetings/m-a/attendance",
        data={"csrf_token": token, "action": "absent:p3"},
    )
    assert bad.status_code == 422
    assert _marks(site) == {"m-a": ("held", None)}
    staff.post(
        f"/organiser/e/{site.slug}/meetings/m-a/attendance",
        data={"csrf_token": token, "action": "clear"},
    )
    assert _marks(site) == {}


def test_door_lists_print_one_page_per_table_and_session(site: Site) -> None:
    _published(site)
    staff = site.client()
    site.sign_in_organiser(staff)
    page = staff.get(f"/organiser/e/{site.slug}/door-lists")
    assert page.status_code == 200
    assert page.text.count('class="door-list"') == 2
    assert "Table 1 · Day 1, Sat 26 Oct 09:00–10:35" in page.text
    assert "Person 1 (Cluster 1) &amp; Person 2 (Company 2)" in page.text
    one = staff.get(f"/organiser/e/{site.slug}/door-lists", params={"location": "t2"}).text
    assert one.count('class="door-list"') == 1
    assert "Person 3 (Cluster 3)" in one
    assert staff.get(f"/organiser/e/{site.slug}/door-lists?location=zz").status_code == 404
    css = staff.get("/static/print.css").text
    assert "section.door-list { break-after: page; }" in css
    participant = site.client()
    site.sign_in(participant, "p1")
    assert participant.get(f"/organiser/e/{site.slug}/door-lists").status_code == 401


def test_feedback_from_the_agenda_once(site: Site) -> None:
    _published(site)
    client = site.client()
    site.sign_in(client, "p2")
    agenda = client.get(f"/e/{site.slug}/me").text
    link = f"/e/{site.slug}/me/meetings/m-a/feedback"
    assert f'href="{link}"' in agenda
    assert "Give feedback on the meeting with Person 1" in agenda
    form = client.get(link)
    assert form.status_code == 200
    assert "How useful was the meeting?" in form.text
    csrf = csrf_of(client, link)
    missing = client.post(link, data={"csrf_token": csrf, "usefulness": "5"})
    assert missing.status_code == 422
    assert "Choose whether you plan a follow-up." in missing.text
    assert 'value="5" checked' in missing.text
    sent = client.post(
        link,
        data={
            "csrf_token": csrf,
            "usefulness": "5",
            "follow_up": "maybe",
            "cooperation": "project",
        },
    )
    assert sent.status_code == 303
    assert "Your feedback is sent" in client.get(sent.headers["location"]).text
    assert client.get(link).status_code == 409
    twice = client.post(
        link,
        data={"csrf_token": csrf, "usefulness": "1", "follow_up": "no", "cooperation": "other"},
    )
    assert twice.status_code == 409
    assert client.get(f"/e/{site.slug}/me/meetings/m-b/feedback").status_code == 404
    with site.read() as db:
        rows = [
            (r.uid, r.usefulness, r.follow_up.value) for r in db.scalars(select(MeetingFeedback))
        ]
    assert rows == [("m-a", 5, "maybe")]


def test_the_closing_mail_from_the_report_page_and_every_form_needs_its_csrf_token(
    site: Site,
) -> None:
    _published(site)
    staff = site.client()
    site.sign_in_organiser(staff)
    csrf = csrf_of(staff, f"/organiser/e/{site.slug}/report")
    sent = staff.post(f"/organiser/e/{site.slug}/report/feedback-mails", data={"csrf_token": csrf})
    assert sent.status_code == 303
    assert (
        "4 e-mails with feedback links are on the way." in staff.get(sent.headers["location"]).text
    )
    with site.read() as db:
        assert len(db.scalars(select(OutboxMail)).all()) == 4

    person = site.client()
    site.sign_in(person, "p1")
    forms = [
        (staff, f"/organiser/e/{site.slug}/check-in/p1", {"action": "arrive"}),
        (staff, f"/organiser/e/{site.slug}/meetings/m-a/attendance", {"action": "held"}),
        (staff, f"/organiser/e/{site.slug}/report/feedback-mails", {}),
        (person, f"/e/{site.slug}/me/meetings/m-a/attendance", {"action": "held"}),
        (
            person,
            f"/e/{site.slug}/me/meetings/m-a/feedback",
            {"usefulness": "5", "follow_up": "yes", "cooperation": "other"},
        ),
    ]
    for client, path, data in forms:
        for token in (None, "forged"):
            form = dict(data) if token is None else {**data, "csrf_token": token}
            assert client.post(path, data=form).status_code == 403, (path, token)
    with site.read() as db:
        assert len(db.scalars(select(OutboxMail)).all()) == 4
        assert db.scalars(select(CheckIn)).all() == []
        assert db.scalars(select(MeetingAttendance)).all() == []
        assert db.scalars(select(MeetingFeedback)).all() == []


# --- who is away, and the re-plan of the rest of the day -------------------------------------


def _published_with_wishes(site: Site) -> None:
    """Person 1 & Person 2 at 09:00 and Person 1 & Person 3 at 09:50 (day 1), each for an
    accepted wish, and Person 5's wish to meet Person 1 not met."""
    people = site.built.participants
    wishes = {
        key: Wish(
            event=site.built.event,
            key=key,
            sender=people[a],
            recipient=people[b],
            status=WishStatus.accepted,
        )
        for key, a, b in [("w1", "p1", "p2"), ("w2", "p1", "p3"), ("w3", "p5", "p1")]
    }
    site.session.add_all(wishes.values())
    version = add_version(
        site.session,
        site.built,
        [("m-1", "s1", "t1", "p1", "p2"), ("m-2", "s3", "t1", "p1", "p3")],
        published_at=at(20),
    )
    version.meetings[0].wishes = [wishes["w1"]]
    version.meetings[1].wishes = [wishes["w2"]]
    site.session.commit()


def _away(site: Site) -> dict[str, str]:
    with site.read() as db:
        return {
            key: moment.strftime("%H:%M")
            for key, moment in db.execute(
                select(Participant.key, Absence.absent_from).join(
                    Absence, Absence.participant_id == Participant.id
                )
            )
        }


def test_staff_mark_someone_away_and_re_plan_the_rest_of_the_day(site: Site) -> None:
    _published_with_wishes(site)
    client = site.client()
    site.sign_in_organiser(client)
    person = client.get(f"/organiser/e/{site.slug}/check-in/p3")
    assert 'id="away_from"' in person.text
    assert 'value="2024-10-27T10:35"' in person.text  # after the event: its last moment
    csrf = csrf_of(client, f"/organiser/e/{site.slug}/check-in/p3")
    # A time outside the event, or no time at all: refused, nothing stored.
    for value in ("2024-10-29T09:30", "soon", "0001-01-01T00:00"):
        refused = client.post(
            f"/organiser/e/{site.slug}/check-in/p3/away",
            data={"csrf_token": csrf, "action": "away", "away_from": value},
        )
        assert refused.status_code == 422, value
    assert "within the event" in refused.text or "day and a time" in refused.text
    assert _away(site) == {}

    marked = client.post(
        f"/organiser/e/{site.slug}/check-in/p3/away",
        data={"csrf_token": csrf, "action": "away", "away_from": "2024-10-26T09:30"},
    )
    assert marked.status_code == 303
    assert marked.headers["location"].startswith(f"/organiser/e/{site.slug}/rest-of-day")
    assert _away(site) == {"p3": "07:30"}  # UTC
    page = client.get(marked.headers["location"]).text
    assert "Person 3 is away from Sat 26 Oct 09:30." in page
    assert "Away from 26 Oct 2024, 09:30 CEST" in page
    assert "Person 3 is not away after all" in page
    assert 'id="frozen_before"' in page

    csrf = csrf_of(client, f"/organiser/e/{site.slug}/rest-of-day")
    outside = client.post(
        f"/organiser/e/{site.slug}/rest-of-day",
        data={"csrf_token": csrf, "frozen_before": "2024-10-25T09:30"},
    )
    assert outside.status_code == 422
    with site.read() as db:
        assert db.scalar(select(func.count()).select_from(SolveJob)) == 0

    started = client.post(
        f"/organiser/e/{site.slug}/rest-of-day",
        data={"csrf_token": csrf, "frozen_before": "2024-10-26T09:30"},
    )
    assert started.status_code == 303, started.text
    assert "Re-planning+from+Sat+26+Oct+09%3A30+without+Person+3" in started.headers["location"]
    with site.read() as db:
        job = db.scalars(select(SolveJob)).one()
        assert job.parameters["frozen_before"] == "2024-10-26T07:30:00+00:00"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with site.read() as db:
            job = db.scalars(select(SolveJob)).one()
        if job.status.value in ("succeeded", "failed"):
            break
        time.sleep(0.1)
    assert job.status.value == "succeeded", job.error
    # The version page is the preview: Person 1 & Person 3 cancelled, Person 5 & Person 1 added.
    preview = client.get(f"/organiser/e/{site.slug}/versions/2").text
    assert "cancels 1 and adds 1 meetings" in preview

    back = client.post(
        f"/organiser/e/{site.slug}/check-in/p3/away", data={"csrf_token": csrf, "action": "back"}
    )
    assert back.status_code == 303
    assert _away(site) == {}


def test_who_may_not_mark_someone_away_or_re_plan_on_the_pages(site: Site) -> None:
    _published_with_wishes(site)
    anonymous = site.client()
    assert anonymous.get(f"/organiser/e/{site.slug}/rest-of-day").status_code == 401
    participant = site.client()
    site.sign_in(participant, "p1")
    csrf = csrf_of(participant, f"/e/{site.slug}/me")
    for path, data in [
        ("check-in/p2/away", {"action": "away", "away_from": "2024-10-26T09:30"}),
        ("rest-of-day", {"frozen_before": "2024-10-26T09:30"}),
    ]:
        refused = participant.post(
            f"/organiser/e/{site.slug}/{path}", data={"csrf_token": csrf, **data}
        )
        assert refused.status_code == 401, path
    assert participant.get(f"/organiser/e/{site.slug}/rest-of-day").status_code == 401
    staff = site.client()
    site.sign_in_organiser(staff)
    csrf = csrf_of(staff, f"/organiser/e/{site.slug}/rest-of-day")
    nobody = staff.post(
        f"/organiser/e/{site.slug}/check-in/nobody/away",
        data={"csrf_token": csrf, "action": "away", "away_from": "2024-10-26T09:30"},
    )
    assert nobody.status_code == 404
    assert _away(site) == {}
    with site.read() as db:
        assert db.scalar(select(func.count()).select_from(SolveJob)) == 0
