"""The organiser's proposals page (preview, then send; errors next to their field; who may
not) and proposals in both sides' inbox, answered by each. Runs on both databases."""

from __future__ import annotations

from sqlalchemy import func, select

from matchmaking.platform.models import OutboxMail, Wish, WishStatus
from tests.pages.conftest import Site, csrf_of


def _proposed(site: Site) -> list[Wish]:
    with site.read() as db:
        return list(db.scalars(select(Wish).where(Wish.proposed).order_by(Wish.id)))


def _mails(site: Site) -> int:
    with site.read() as db:
        query = select(func.count()).select_from(OutboxMail)
        return db.scalar(query.where(OutboxMail.template == "proposal_received")) or 0


def test_an_organiser_previews_then_sends_proposals(site: Site) -> None:
    browser = site.client()
    site.sign_in_organiser(browser)
    page_url = f"/organiser/e/{site.slug}/proposals"
    assert f'href="{page_url}"' in browser.get(f"/organiser/e/{site.slug}").text
    csrf = csrf_of(browser, page_url)

    wrong = browser.post(
        page_url, data={"csrf_token": csrf, "per_participant": "0", "action": "preview"}
    )
    assert wrong.status_code == 422
    assert 'id="per_participant-error"' in wrong.text
    assert "between 1 and 20" in wrong.text
    assert 'aria-invalid="true"' in wrong.text

    form = {"csrf_token": csrf, "per_participant": "1"}
    preview = browser.post(page_url, data={**form, "action": "preview"})
    assert preview.status_code == 200
    # Six people, one proposal each: three proposals, in names, with the reasons.
    assert "Send 3 proposals" in preview.text
    assert "no schedule yet" in preview.text
    assert "works in Energy, as you do" in preview.text
    assert "Person 1 (Cluster 1) and" in preview.text
    assert _proposed(site) == []

    stale = browser.post(page_url, data={**form, "action": "send", "seen": "7"})
    assert stale.status_code == 200
    assert "The proposals changed since you looked" in stale.text
    assert _proposed(site) == []

    sent = browser.post(page_url, data={**form, "action": "send", "seen": "3"})
    assert sent.status_code == 303
    wishes = _proposed(site)
    assert len(wishes) == 3
    assert all(w.status is WishStatus.requested for w in wishes)
    assert len({w.sender_id for w in wishes} | {w.recipient_id for w in wishes}) == 6
    assert _mails(site) == 6
    done = browser.get(sent.headers["location"])
    assert "Sent 3 proposals" in done.text
    assert "3 proposals sent earlier still wait for an answer." in done.text


def test_both_sides_answer_a_proposal_in_their_inbox(site: Site) -> None:
    organiser = site.client()
    site.sign_in_organiser(organiser)
    page_url = f"/organiser/e/{site.slug}/proposals"
    csrf = csrf_of(organiser, page_url)
    form = {"csrf_token": csrf, "per_participant": "1", "action": "send", "seen": "3"}
    assert organiser.post(page_url, data=form).status_code == 303
    wish = _proposed(site)[0]
    keys = {p.id: key for key, p in site.built.participants.items()}
    names = {p.id: p.name for p in site.built.participants.values()}
    sender, recipient = keys[wish.sender_id], keys[wish.recipient_id]
    assert wish.recipient_id is not None

    one, other = site.client(), site.client()
    site.sign_in(one, sender)
    site.sign_in(other, recipient)
    inbox = f"/e/{site.slug}/inbox"
    page = one.get(inbox)
    assert f"The organisers propose you meet {names[wish.recipient_id]}" in page.text
    assert "waiting for your answer" in page.text
    assert other.get(inbox).text.count(f"propose you meet {names[wish.sender_id]}") == 1
    # Not among the sender's own wishes.
    assert wish.key not in one.get(f"/e/{site.slug}/wishes").text

    csrf = csrf_of(one, inbox)
    accepted = one.post(
        f"/e/{site.slug}/wishes/{wish.key}", data={"csrf_token": csrf, "action": "accept"}
    )
    assert accepted.status_code == 303
    page = one.get(inbox)
    assert "waiting for the other side" in page.text
    assert "for your answer" not in one.get(f"/e/{site.slug}/me").text
    assert "1 meeting request waits for your answer" in other.get(f"/e/{site.slug}/me").text
    assert f'aria-label="Accept the proposed meeting with {names[wish.recipient_id]}"' not in (
        page.text
    )
    csrf = csrf_of(other, inbox)
    both = other.post(
        f"/e/{site.slug}/wishes/{wish.key}", data={"csrf_token": csrf, "action": "accept"}
    )
    assert both.status_code == 303
    assert [w.status for w in _proposed(site) if w.key == wish.key] == [WishStatus.accepted]
    with site.read() as db:
        told = db.scalars(
            select(OutboxMail.recipient).where(OutboxMail.template == "wish_answered")
        ).all()
    # Each acceptance tells the other side.
    assert sorted(told) == sorted(
        [site.built.participants[recipient].email, site.built.participants[sender].email]
    )


def test_participants_strangers_and_forged_forms_cannot_propose(site: Site) -> None:
    page_url = f"/organiser/e/{site.slug}/proposals"
    participant = site.client()
    site.sign_in(participant, "p1")
    assert participant.get(page_url).status_code == 401
    csrf = csrf_of(participant, f"/e/{site.slug}/me")
    refused = participant.post(
        page_url,
        data={"csrf_token": csrf, "per_participant": "1", "action": "send", "seen": "3"},
    )
    assert refused.status_code == 401
    assert site.client().get(page_url).status_code in (303, 401)
    organiser = site.client()
    site.sign_in_organiser(organiser)
    forged = organiser.post(
        page_url,
        data={"csrf_token": "forged", "per_participant": "1", "action": "send", "seen": "3"},
    )
    assert forged.status_code == 403
    assert organiser.get("/organiser/e/nope/proposals").status_code == 404
    assert _proposed(site) == []
