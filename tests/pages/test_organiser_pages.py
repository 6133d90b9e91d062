"""Organiser pages: sign-in, dashboard, solving with progress, version review, publishing,
exports."""

from __future__ import annotations

import io
import time

import pytest
from openpyxl import load_workbook
from sqlalchemy import select

from matchmaking.platform.models import (
    ApiToken,
    JobStatus,
    Organiser,
    ScheduleVersion,
    SolveJob,
    Wish,
    WishStatus,
)
from matchmaking.platform.security import hash_token, new_token
from tests.calendars.builders import add_version, at
from tests.pages.conftest import Site, csrf_of


def test_organiser_signs_in_with_an_api_token_into_an_httponly_cookie(site: Site) -> None:
    client = site.client()
    assert client.get(f"/organiser/e/{site.slug}").status_code == 401
    token = csrf_of(client, "/organiser/login")
    wrong = client.post("/organiser/login", data={"csrf_token": token, "token": "mmo_wrong"})
    assert wrong.status_code == 401
    assert "unknown or revoked" in wrong.text
    assert 'id="token-error"' in wrong.text

    cookie = site.sign_in_organiser(client)
    # The cookie holds a session token of this sign-in, never the API token.
    assert cookie.startswith("mm_organiser=mms_")
    assert site.organiser_token not in cookie
    assert "HttpOnly" in cookie
    assert "samesite=lax" in cookie.lower()
    dashboard = client.get(f"/organiser/e/{site.slug}")
    assert dashboard.status_code == 200
    assert "6</strong> participants" in dashboard.text
    assert client.get("/organiser").text.count(site.slug) >= 1


def test_organiser_of_another_event_sees_no_trace_of_it(site: Site) -> None:
    stranger = Organiser(email="else@example.org", name="Else")
    token = new_token("mmo")
    site.session.add_all(
        [stranger, ApiToken(organiser=stranger, token_hash=hash_token(token), prefix="x")]
    )
    site.session.commit()
    client = site.client()
    csrf = csrf_of(client, "/organiser/login")
    client.post("/organiser/login", data={"csrf_token": csrf, "token": token})
    assert client.get(f"/organiser/e/{site.slug}").status_code == 404
    assert client.get(f"/organiser/e/{site.slug}/versions/1/timetable.csv").status_code == 404


def _accept_wishes(site: Site, pairs: list[tuple[str, str]]) -> None:
    for n, (a, b) in enumerate(pairs, start=1):
        site.session.add(
            Wish(
                event=site.built.event,
                key=f"w{n}",
                sender=site.built.participants[a],
                recipient=site.built.participants[b],
                priority=2,
                status=WishStatus.accepted,
            )
        )
    site.session.commit()


@pytest.mark.slow
def test_organiser_solves_from_the_dashboard_and_publishes_the_version(site: Site) -> None:
    _accept_wishes(site, [("p1", "p2"), ("p3", "p4"), ("p1", "p4")])
    client = site.client()
    site.sign_in_organiser(client)
    csrf = csrf_of(client, f"/organiser/e/{site.slug}")
    started = client.post(
        f"/organiser/e/{site.slug}/solve", data={"csrf_token": csrf, "time_limit": "5"}
    )
    assert started.status_code == 303
    with site.read() as db:
        job_id = db.scalar(select(SolveJob.id))
    assert job_id is not None
    deadline = time.monotonic() + 60
    while True:
        progress = client.get(f"/organiser/e/{site.slug}/jobs/{job_id}.json").json()
        if progress["finished"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert progress["status"] == JobStatus.succeeded.value, progress
    assert progress["share"] == 1.0
    assert "<svg" in progress["chart"]

    review = client.get(f"/organiser/e/{site.slug}/versions/1")
    assert review.status_code == 200
    assert "3</strong> scheduled" in review.text
    assert "Every accepted wish is scheduled." in review.text
    publish = client.post(f"/organiser/e/{site.slug}/versions/1/publish", data={"csrf_token": csrf})
    assert publish.status_code == 303, publish.text
    with site.read() as db:
        version = db.scalar(select(ScheduleVersion))
        assert version is not None
        assert version.published_at is not None
    assert "<strong>current</strong>" in client.get(f"/organiser/e/{site.slug}").text


def test_version_page_shows_grid_statistics_unscheduled_reasons_and_diff(site: Site) -> None:
    _accept_wishes(site, [("p1", "p2"), ("p3", "p4"), ("p5", "p6")])
    add_version(site.session, site.built, [("w1", "s1", "t1", "p1", "p2")], published_at=at(20))
    second = add_version(
        site.session,
        site.built,
        [("w1", "s2", "t1", "p1", "p2"), ("w2", "s1", "t2", "p3", "p4")],
    )
    second.unscheduled = [
        {"wish": "w3", "reason": "no_common_slot", "detail": "p5 and p6 share no available slot"}
    ]
    site.session.commit()
    client = site.client()
    site.sign_in_organiser(client)
    page = client.get(f"/organiser/e/{site.slug}/versions/2", params={"participant": "p1"}).text

    assert "Person 3 (Cluster 3) – Person 4 (Company 4)" in page  # the grid
    # Against the published version 1, in names, times and tables.
    assert "Publishing moves 1, cancels 0 and adds 1 meetings for 4 participants" in page
    assert "Person 1 (Cluster 1) &amp; Person 2 (Company 2)" in page
    assert 'id="confirm-cancelled"' not in page  # nothing cancelled, nothing to confirm
    assert "no time when both can meet" in page
    assert "Person 5 (Cluster 5) and Person 6 (Company 6) share no available slot" in page
    assert "p5 and p6" not in page  # names, not keys
    assert "Person 5 (Cluster 5) → Person 6" in page
    assert '<svg class="chart"' in page
    assert "Meetings per slot" in page
    assert "Person 1: 1 meeting" in page
    assert 'id="publish"' in page
    assert "Publish anyway" in page  # w3 is accepted but version 2 planned from scratch


def test_exports_keep_formula_like_names_as_plain_text(site: Site) -> None:
    site.built.participants["p1"].name = '=HYPERLINK("http://evil.example","click")'
    site.built.participants["p2"].organisation.name = "+Plus & Co"
    add_version(site.session, site.built, [("w1", "s1", "t1", "p1", "p2")], published_at=at(20))
    site.session.commit()
    client = site.client()
    site.sign_in_organiser(client)
    base = f"/organiser/e/{site.slug}/versions/1"

    csv_response = client.get(f"{base}/timetable.csv")
    assert csv_response.headers["content-type"].startswith("text/csv")
    assert "attachment" in csv_response.headers["content-disposition"]
    text = csv_response.content.decode("utf-8-sig")
    assert '"\'=HYPERLINK(""http://evil.example"",""click"")"' in text
    assert ",'+Plus & Co," in text
    assert text.startswith("Date,Start,End,Session,Location")

    xlsx = client.get(f"{base}/agendas.xlsx")
    sheet = load_workbook(io.BytesIO(xlsx.content)).active
    assert sheet is not None
    rows = list(sheet.iter_rows(min_row=2))
    names = {row[0].value: row for row in rows}
    evil = names['=HYPERLINK("http://evil.example","click")']
    assert evil[0].data_type == "s"
    assert evil[8].value == "+Plus & Co"
    assert evil[8].data_type == "s"
    assert len(rows) == 2  # one row per participant and meeting
    assert client.get(f"{base}/secrets.csv").status_code == 404
