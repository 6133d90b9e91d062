"""Issue 12 in a real browser: pages that speak in names, a version page that works for a big
timetable, solve progress per goal, publishing a superseded version, reopening registration,
phone-sized participant pages, dead ends that lead somewhere, and the API docs offline.

Every page is saved as a screenshot in artifacts/screenshots/ (390 px wide ones end in
`-phone`).
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from matchmaking.platform.models import (
    ApiToken,
    EventRole,
    EventRoleName,
    EventStatus,
    Participant,
    ScheduleVersion,
    Wish,
    WishStatus,
    utcnow,
)
from matchmaking.platform.models import Organiser as OrganiserRow
from matchmaking.platform.security import PARTICIPANT_TOKEN_PREFIX, hash_token, new_token
from tests.browser.conftest import Served
from tests.browser.test_scenario import _register, _shot
from tests.calendars.builders import Built, add_version, build_event

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {"width": 390, "height": 844}
FITS = "() => document.documentElement.scrollWidth <= window.innerWidth"
#: Controls whose right edge is beyond the screen (cut off on a phone).
CUT_OFF = """() => Array.from(
  document.querySelectorAll('main button, main a.button, main select')
).filter(el => el.offsetParent !== null
  && el.getBoundingClientRect().right > window.innerWidth + 1
).map(el => el.outerHTML.slice(0, 80))"""


def _setup(served: Served, participants: int = 30, **event: Any) -> tuple[Built, dict[str, str]]:
    """An open event; the organiser's token and personal links of p1 and p2."""
    with Session(served.app.state.engine, expire_on_commit=False) as db:
        built = build_event(db, participants=participants, **event)
        built.event.status = EventStatus.open
        if "p5" in built.participants:
            built.participants["p5"].organisation.name = "Grappe IA de Montréal"
        organiser = OrganiserRow(email="owner@example.org", name="Olga Owner")
        tokens = {"organiser": new_token("mmo")}
        db.add_all(
            [
                organiser,
                ApiToken(
                    organiser=organiser, token_hash=hash_token(tokens["organiser"]), prefix="x"
                ),
                EventRole(event=built.event, organiser=organiser, role=EventRoleName.owner),
            ]
        )
        for key in ("p1", "p2"):
            tokens[key] = new_token(PARTICIPANT_TOKEN_PREFIX)
            built.participants[key].access_token_hash = hash_token(tokens[key])
        db.commit()
    return built, tokens


def _db(served: Served) -> Session:
    return Session(served.app.state.engine, expire_on_commit=False)


def _participant(browser: Any, served: Served, slug: str, token: str, **context: Any) -> Any:
    page = browser.new_context(**context).new_page()
    page.goto(f"{served.url}/e/{slug}/login?token={token}")
    return page


def _organiser(browser: Any, served: Served, token: str, **context: Any) -> Any:
    page = browser.new_context(**context).new_page()
    page.goto(f"{served.url}/organiser/login")
    page.get_by_label("API token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Your events").wait_for()
    return page


def _wish(db: Session, built: Built, key: str, a: str, b: str, **fields: Any) -> Wish:
    wish = Wish(
        event=built.event,
        key=key,
        sender=built.participants[a],
        recipient=built.participants[b],
        priority=fields.pop("priority", 2),
        status=fields.pop("status", WishStatus.accepted),
        **fields,
    )
    db.add(wish)
    return wish


# --- participants on a phone -----------------------------------------------------------------


def test_directory_pages_search_ignores_accents_and_ask_to_meet_returns_to_the_card(
    served: Served, browser: Any, screenshots: Path
) -> None:
    built, tokens = _setup(served, participants=60)
    slug = built.event.slug
    page = _participant(browser, served, slug, tokens["p1"], viewport=PHONE)
    page.goto(f"{served.url}/e/{slug}/directory")
    assert page.locator("#people > li.card").count() == 24
    assert "1–24 of 59 participants" in page.inner_text("main")
    assert page.evaluate(FITS), "the directory is wider than the phone"
    _shot(page, screenshots, "p12-directory-phone", full_page=False)

    # Accents do not matter: "montreal" finds "Grappe IA de Montréal".
    page.get_by_label("Search").fill("montreal")
    page.get_by_role("button", name="Filter").click()
    cards = page.locator("#people > li.card")
    assert cards.count() == 1
    assert "Montréal" in cards.inner_text()

    # Page 2 of a search, then "Ask to meet" on a card far down, with a message.
    page.goto(f"{served.url}/e/{slug}/directory?q=person")
    page.get_by_role("link", name="Page 2").first.click()
    assert "page=2" in page.url
    assert "q=person" in page.url
    card = page.locator("#people > li.card").nth(20)
    card_id = card.get_attribute("id")
    card.get_by_label("Message (optional)").fill("Let's talk <b>quantum</b> sensors & grids")
    card.get_by_role("button", name=re.compile("Ask to meet")).click()
    page.wait_for_url(re.compile(rf"#{card_id}$"))
    assert "q=person" in page.url
    assert "page=2" in page.url
    assert page.evaluate("window.scrollY") > 500  # back at the card, not at the top
    assert page.locator(f"#{card_id}").is_visible()
    assert "You asked to meet" in page.locator(f"#{card_id}").inner_text()
    _shot(page, screenshots, "p13-directory-after-ask-phone", full_page=False)

    with _db(served) as db:
        wish = db.scalar(select(Wish).where(Wish.message != ""))
        assert wish is not None
        assert wish.message == "Let's talk <b>quantum</b> sensors & grids"
        recipient = db.get(Participant, wish.recipient_id)
        assert recipient is not None
        recipient_token = new_token(PARTICIPANT_TOKEN_PREFIX)
        recipient.access_token_hash = hash_token(recipient_token)
        db.commit()

    # The recipient reads the message as text (escaped), in an inbox with pending first.
    inbox = _participant(browser, served, slug, recipient_token, viewport=PHONE)
    inbox.goto(f"{served.url}/e/{slug}/inbox")
    first = inbox.locator("#requests > li.card").first
    assert "Let's talk <b>quantum</b> sensors & grids" in first.inner_text()
    assert first.locator("b").count() == 0
    assert "2 – want to meet" in first.inner_text()
    assert "waiting for your answer" in first.inner_text()
    assert inbox.evaluate(FITS)
    _shot(inbox, screenshots, "p14-inbox-phone")


def test_inbox_lists_pending_requests_first_with_their_priority(
    served: Served, browser: Any, screenshots: Path
) -> None:
    built, tokens = _setup(served, participants=8)
    with _db(served) as db:
        db.add(built.event)
        _wish(db, built, "w1", "p3", "p1", status=WishStatus.accepted, priority=1)
        _wish(db, built, "w2", "p4", "p1", status=WishStatus.requested, priority=3)
        _wish(db, built, "w3", "p5", "p1", status=WishStatus.declined, priority=2)
        _wish(db, built, "w4", "p6", "p1", status=WishStatus.requested, priority=1)
        db.commit()
    page = _participant(browser, served, built.event.slug, tokens["p1"], viewport=PHONE)
    page.goto(f"{served.url}/e/{built.event.slug}/inbox")
    names = page.locator("#requests > li.card h2").all_inner_texts()
    assert names == ["Person 6", "Person 4", "Person 3", "Person 5"]
    assert "2 requests wait for your answer" in page.inner_text("main")
    assert "1 – must meet" in page.locator("#requests > li.card").first.inner_text()
    _shot(page, screenshots, "p15-inbox-pending-first-phone")


def test_my_wishes_registration_and_dashboard_fit_a_phone(
    served: Served, browser: Any, screenshots: Path
) -> None:
    built, tokens = _setup(served, participants=6)
    slug = built.event.slug
    with _db(served) as db:
        for n, other in enumerate(("p2", "p3", "p4"), start=1):
            _wish(db, built, f"w{n}", "p1", other, status=WishStatus.requested)
        db.commit()
    page = _participant(browser, served, slug, tokens["p1"], viewport=PHONE)
    page.goto(f"{served.url}/e/{slug}/wishes")
    assert page.evaluate(FITS)
    assert page.evaluate(CUT_OFF) == []
    assert page.get_by_role("button", name="Withdraw").first.is_visible()
    _shot(page, screenshots, "p16-my-wishes-phone")

    fresh = browser.new_context(viewport=PHONE).new_page()
    _register(fresh, served, slug, screenshots)
    assert fresh.evaluate(FITS), "the registration confirmation overflows"
    _shot(fresh, screenshots, "p17-registered-phone")

    organiser = _organiser(browser, served, tokens["organiser"], viewport=PHONE)
    organiser.goto(f"{served.url}/organiser/e/{slug}")
    assert organiser.evaluate(FITS)
    assert organiser.evaluate(CUT_OFF) == []
    _shot(organiser, screenshots, "p18-dashboard-phone")


def test_agenda_says_which_accepted_wishes_were_not_scheduled_and_why(
    served: Served, browser: Any, screenshots: Path
) -> None:
    built, tokens = _setup(served, participants=6)
    with _db(served) as db:
        db.add(built.event)
        _wish(db, built, "w1", "p1", "p2")
        _wish(db, built, "w2", "p1", "p3", priority=1)
        db.flush()
        version = add_version(db, built, [("w1", "s1", "t1", "p1", "p2")], published_at=utcnow())
        version.unscheduled = [
            {"wish": "w2", "reason": "participant_at_cap", "detail": "p3 already has 6 meetings"}
        ]
        db.commit()
    page = _participant(browser, served, built.event.slug, tokens["p1"], viewport=PHONE)
    section = page.locator("section", has=page.get_by_role("heading", name=re.compile("not sched")))
    text = section.inner_text()
    assert "Your wish to meet Person 3 (Cluster 3)" in text
    assert "the most meetings allowed are reached" in text
    assert "p3" not in text
    _shot(page, screenshots, "p19-agenda-not-scheduled-phone")


# --- dead ends -------------------------------------------------------------------------------


def test_dead_ends_lead_to_sign_in_a_404_page_and_the_lost_link_form(
    served: Served, browser: Any, screenshots: Path
) -> None:
    built, tokens = _setup(served, participants=4)
    slug = built.event.slug
    page = browser.new_context().new_page()

    # The dashboard link without a session: the sign-in form, then the dashboard itself.
    response = page.goto(f"{served.url}/organiser/e/{slug}")
    assert response is not None
    assert response.status == 401
    _shot(page, screenshots, "p20-dashboard-sign-in")
    page.get_by_label("API token").fill(tokens["organiser"])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{served.url}/organiser/e/{slug}")
    page.get_by_role("heading", name=built.event.name).wait_for()

    # An unknown address: an HTML page for the browser.
    response = page.goto(f"{served.url}/no/such/page")
    assert response is not None
    assert response.status == 404
    assert response.headers["content-type"].startswith("text/html")
    page.get_by_role("heading", name="Page not found").wait_for()
    _shot(page, screenshots, "p21-not-found")

    # A bad personal link offers the lost-link form.
    page.goto(f"{served.url}/e/{slug}/login?token=mmp_wrong")
    page.get_by_role("link", name="E-mail me a new personal link").click()
    page.get_by_label("Your e-mail address").fill("p1@example.org")
    _shot(page, screenshots, "p22-lost-link")
    page.get_by_role("button", name="E-mail me a new link").click()
    page.get_by_role("heading", name="Check your e-mail").wait_for()


def test_api_docs_work_without_any_other_site(
    served: Served, browser: Any, screenshots: Path
) -> None:
    page = browser.new_context().new_page()
    elsewhere: list[str] = []

    def only_this_site(route: Any) -> None:
        if route.request.url.startswith(served.url):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    page.route("**/*", only_this_site)
    page.goto(f"{served.url}/api/v1/docs")
    page.locator(".swagger-ui .info .title").wait_for(timeout=20_000)
    assert "matchmaking" in page.locator(".swagger-ui .info .title").inner_text()
    assert page.locator(".opblock").count() > 20
    assert elsewhere == []
    # (Swagger UI's own controls are its own: no label check here.)
    page.screenshot(path=str(screenshots / "p23-api-docs-offline.png"))


# --- organisers ------------------------------------------------------------------------------


def test_version_page_speaks_in_names_and_shows_the_timetable_by_session_and_group(
    served: Served, browser: Any, screenshots: Path
) -> None:
    built, tokens = _setup(served, participants=12, slots_per_day=12)
    slug = built.event.slug
    with _db(served) as db:
        db.add(built.event)
        for n, (a, b) in enumerate([("p1", "p2"), ("p3", "p4"), ("p5", "p6"), ("p7", "p8")]):
            _wish(db, built, f"w{n + 1}", a, b)
        _wish(db, built, "w9", "p9", "p10")
        video = built.locations["video"]
        video.capacity = 5
        video.url = "https://meet.example.org/fair"
        db.flush()
        version = add_version(
            db,
            built,
            [
                ("w1", "s1", "t1", "p1", "p2"),
                ("w2", "s2", "t2", "p3", "p4"),
                ("m-video-1", "s1", "video", "p5", "p6"),
                ("m-video-2", "s1", "video", "p7", "p8"),
                ("w-day2", "s13", "t1", "p11", "p12"),
            ],
        )
        version.unscheduled = [
            {
                "wish": "w9",
                "reason": "location_capacity",
                "detail": "p9 and p10 are both free in s3, s4, but every suitable table or "
                "room is taken then",
            }
        ]
        db.commit()
    page = _organiser(browser, served, tokens["organiser"])
    page.goto(f"{served.url}/organiser/e/{slug}/versions/1")
    main = page.inner_text("main")
    assert "Person 9 (Cluster 9) and Person 10 (Company 10) are both free in" in main
    assert "Sat 26 Oct 09:50–10:10" in main  # s3 as a time
    assert not re.search(r"\b(p9|p10|s3|s4|w9)\b", main), "internal keys on the page"
    chart_labels = page.locator("svg.chart text").all_text_contents()
    assert "Sat 09:00" in chart_labels
    assert "s1" not in chart_labels
    tooltips = page.locator("svg.chart rect title").all_text_contents()
    assert "Sat 26 Oct 09:00–09:20: 3" in tooltips

    grid = page.locator("table.grid")
    assert "Day 1" in grid.locator("caption").inner_text()
    assert "Person 1 (Cluster 1) – Person 2 (Company 2)" in grid.inner_text()
    assert "Person 11" not in grid.inner_text()  # day 2 is another view
    links = page.locator("table.shared a", has_text="meeting link")
    hrefs = {links.nth(i).get_attribute("href") for i in range(links.count())}
    assert hrefs == {
        "https://meet.example.org/fair/m-video-1",
        "https://meet.example.org/fair/m-video-2",
    }
    _shot(page, screenshots, "p24-version-page")

    # The headers stay in view while the timetable scrolls inside its box (phone size).
    page.set_viewport_size({"width": 390, "height": 600})
    box = page.locator(".timetable").first
    box.scroll_into_view_if_needed()
    box.evaluate("el => { el.scrollTop = 200; el.scrollLeft = 150; }")
    top = box.evaluate("el => el.getBoundingClientRect().top")
    left = box.evaluate("el => el.getBoundingClientRect().left")
    header = grid.locator("thead th").nth(1).evaluate("el => el.getBoundingClientRect().top")
    row_head = grid.locator("tbody th").nth(8).evaluate("el => el.getBoundingClientRect().left")
    assert abs(header - top) <= 2
    assert abs(row_head - left) <= 2
    assert page.evaluate(FITS)
    _shot(page, screenshots, "p25-version-timetable-phone", full_page=False)
    page.set_viewport_size({"width": 1280, "height": 900})

    page.get_by_label("Session or day").select_option(label="Day 2")
    page.get_by_label("Locations", exact=True).select_option(label="Tables")
    page.get_by_role("button", name="Show").click()
    assert "Person 11 (Cluster 11) – Person 12 (Company 12)" in page.inner_text("table.grid")

    page.get_by_label("Find a participant").fill("person 3")
    page.get_by_role("button", name="Show").click()
    results = page.locator("table.results").inner_text()
    assert "Person 3 (Cluster 3) – Person 4 (Company 4)" in results
    assert "Table 2" in results
    _shot(page, screenshots, "p26-version-search")


def test_publishing_a_superseded_version_shows_the_warnings_and_answers_a_page(
    served: Served, browser: Any, screenshots: Path
) -> None:
    built, tokens = _setup(served, participants=6)
    slug = built.event.slug
    with _db(served) as db:
        db.add(built.event)
        add_version(db, built, [("w1", "s1", "t1", "p1", "p2")], published_at=utcnow())
        add_version(db, built, [("w1", "s2", "t1", "p1", "p2")])  # planned from scratch
        db.commit()
    page = _organiser(browser, served, tokens["organiser"])
    page.goto(f"{served.url}/organiser/e/{slug}/versions/2")
    warnings = page.locator("#publish-warnings").inner_text()
    assert "planned from scratch, but version 1 is published now" in warnings
    assert "force" not in page.inner_text("main")

    response_status: list[int] = []
    page.on("response", lambda r: response_status.append(r.status) if "/publish" in r.url else None)
    page.get_by_role("button", name="Publish version 2").click()
    page.locator("#publish-refused").wait_for()
    assert response_status == [409]
    assert "Version 2 was not published" in page.inner_text("#publish-refused")
    assert "force=true" not in page.content()
    _shot(page, screenshots, "p27-publish-refused")

    page.get_by_label(re.compile("Publish anyway")).check()
    page.get_by_role("button", name="Publish version 2").click()
    page.get_by_text("Version 2 is published.").wait_for()


def test_registration_reopens_after_publishing_and_late_registrants_wait_for_a_replan(
    served: Served, browser: Any, screenshots: Path
) -> None:
    built, tokens = _setup(served, participants=4)
    slug = built.event.slug
    with _db(served) as db:
        event = built.event
        db.add(event)
        add_version(db, built, [("w1", "s1", "t1", "p1", "p2")], published_at=utcnow())
        event.status = EventStatus.published
        event.registration_closes = utcnow() + timedelta(days=3)
        db.commit()
    page = _organiser(browser, served, tokens["organiser"])
    page.goto(f"{served.url}/organiser/e/{slug}")
    page.get_by_role("button", name="Reopen registration").click()
    page.get_by_text("Registration is open: participants can register now.").first.wait_for()

    visitor = browser.new_context().new_page()
    _register(visitor, served, slug, screenshots)
    visitor.goto(f"{served.url}/e/{slug}/me")
    assert "You registered after the schedule was made" in visitor.inner_text("main")

    page.goto(f"{served.url}/organiser/e/{slug}")
    late = page.locator("#late-registrations").inner_text()
    assert "1 participant registered after version 1 was planned" in late
    assert "Ann Åkesson" in late
    assert "re-plan" in late
    _shot(page, screenshots, "p28-dashboard-late-registrations")


def test_solve_progress_names_each_goal_with_value_and_bound_and_keeps_the_time_limit(
    served: Served, browser: Any, screenshots: Path
) -> None:
    built, tokens = _setup(served, participants=8)
    with _db(served) as db:
        db.add(built.event)
        for n, (a, b) in enumerate([("p1", "p2"), ("p3", "p4"), ("p5", "p6"), ("p1", "p4")]):
            _wish(db, built, f"w{n + 1}", a, b)
        db.commit()
    page = _organiser(browser, served, tokens["organiser"])
    page.goto(f"{served.url}/organiser/e/{built.event.slug}")
    page.get_by_label("Time limit (seconds)").fill("4")
    page.get_by_role("button", name="Solve now").click()
    page.get_by_role("link", name="Review version 1").wait_for(timeout=60_000)
    assert page.get_by_label("Time limit (seconds)").input_value() == "4"
    job = page.locator(".job").first
    stages = job.locator("table.stages tbody tr")
    assert stages.count() >= 1
    first = stages.first.inner_text()
    assert "Met wishes" in first
    assert "weighted number of met wishes" in first
    assert job.locator("figure.stage svg").count() == stages.count()
    assert job.locator("figure.stage figcaption").first.inner_text().startswith("Stage 1:")
    _shot(page, screenshots, "p29-solve-progress")
    with _db(served) as db:
        assert db.scalar(select(ScheduleVersion.number)) == 1
