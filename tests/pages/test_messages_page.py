"""The organiser's messages page: segments with how many they reach, errors next to their
field, a preview of the recipients before sending, sending through the outbox, who may not."""

from __future__ import annotations

from sqlalchemy import func, select

from matchmaking.platform.models import OutboxMail, Participant
from tests.pages.conftest import Site, csrf_of


def _queued(site: Site) -> int:
    with site.read() as db:
        query = select(func.count()).select_from(OutboxMail)
        return db.scalar(query.where(OutboxMail.template == "organiser_message")) or 0


def test_an_organiser_previews_then_sends_a_message_to_everyone(site: Site) -> None:
    browser = site.client()
    site.sign_in_organiser(browser)
    page_url = f"/organiser/e/{site.slug}/messages"
    with site.read() as db:
        people = db.scalar(
            select(func.count())
            .select_from(Participant)
            .where(Participant.event_id == site.built.event.id, Participant.email != "")
        )
    page = browser.get(page_url)
    assert page.status_code == 200
    assert f"Everyone ({people} people)" in page.text
    assert f'href="{page_url}"' in browser.get(f"/organiser/e/{site.slug}").text

    csrf = csrf_of(browser, page_url)
    form = {"csrf_token": csrf, "segment": "everyone", "subject": "", "body": "Hello all"}
    missing = browser.post(page_url, data={**form, "action": "preview"})
    assert missing.status_code == 422
    assert 'id="subject-error"' in missing.text
    assert "Write a subject." in missing.text
    assert 'aria-invalid="true"' in missing.text
    assert "Hello all" in missing.text

    form["subject"] = "Welcome to Montréal"
    preview = browser.post(page_url, data={**form, "action": "preview"})
    assert preview.status_code == 200
    assert f"Send to {people} participants" in preview.text
    assert _queued(site) == 0
    # A send that did not see the current recipients only shows them again.
    stale = browser.post(page_url, data={**form, "action": "send", "seen": "1"})
    assert stale.status_code == 200
    assert "The recipients changed" in stale.text
    assert _queued(site) == 0

    sent = browser.post(page_url, data={**form, "action": "send", "seen": str(people)})
    assert sent.status_code == 303
    assert _queued(site) == people
    done = browser.get(sent.headers["location"])
    assert f"Your message is on its way to {people} participants." in done.text


def test_participants_strangers_and_forged_forms_cannot_send(site: Site) -> None:
    page_url = f"/organiser/e/{site.slug}/messages"
    participant = site.client()
    site.sign_in(participant, "p1")
    assert participant.get(page_url).status_code == 401
    csrf = csrf_of(participant, f"/e/{site.slug}/me")
    refused = participant.post(
        page_url,
        data={"csrf_token": csrf, "segment": "everyone", "subject": "x", "body": "y",
              "action": "send", "seen": "3"},
    )  # fmt: skip
    assert refused.status_code == 401
    organiser = site.client()
    site.sign_in_organiser(organiser)
    forged = organiser.post(
        page_url,
        data={"csrf_token": "forged", "segment": "everyone", "subject": "x", "body": "y",
              "action": "send", "seen": "3"},
    )  # fmt: skip
    assert forged.status_code == 403
    assert _queued(site) == 0
