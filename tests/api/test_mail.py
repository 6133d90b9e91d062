"""E-mail through a real local SMTP server; a broken mail server never breaks a request, and
the mail waits in the outbox for the next attempt."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from matchmaking.platform.models import MailStatus, OutboxMail, utcnow
from tests.api.conftest import Factory, Mailbox, make_settings


def test_registration_mails_the_personal_link(
    mail_client: TestClient, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, _ = smtp_server
    make = Factory(mail_client.app, mail_client)  # type: ignore[arg-type]
    slug = make.open_event(make.organiser())
    registered = make.participant(slug, email="kristina@energy.dk", name="Kristina")
    [message] = mailbox.wait_for(1)
    assert message["To"] == "kristina@energy.dk"
    assert message["Date"] is not None
    assert message["Message-ID"].endswith("@matchmaking.test>")
    assert "Your registration for" in message["Subject"]
    assert registered["link"] in mailbox.text(message)
    html = message.get_body(("html",)).get_content()
    assert f'href="{registered["link"]}"' in html


def test_wish_received_and_answered_are_mailed(
    mail_client: TestClient, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, _ = smtp_server
    make = Factory(mail_client.app, mail_client)  # type: ignore[arg-type]
    slug = make.open_event(make.organiser())
    ana = make.participant(slug, email="ana@example.org", name="Ana <Admin>")
    ben = make.participant(slug, email="ben@example.org", name="Ben")
    mailbox.wait_for(2)
    sent = mail_client.post(
        f"/api/v1/events/{slug}/me/wishes",
        json={"to": ben["participant"]["key"], "message": "Wind & <b>sun</b>"},
        headers=ana["headers"],
    ).json()
    received = mailbox.wait_for(3)[2]
    assert received["To"] == "ben@example.org"
    assert "Ana <Admin>" in received["Subject"]
    assert "Wind & <b>sun</b>" in mailbox.text(received)
    # The HTML part escapes what participants typed.
    assert "Wind &amp; &lt;b&gt;sun&lt;/b&gt;" in received.get_body(("html",)).get_content()
    mail_client.post(
        f"/api/v1/events/{slug}/me/wishes/{sent['key']}/accept", headers=ben["headers"]
    )
    answered = mailbox.wait_for(4)[3]
    assert answered["To"] == "ana@example.org"
    assert "accepted" in answered["Subject"]


def test_registration_succeeds_when_the_mail_server_is_down_and_the_mail_waits(
    db_url: str,
) -> None:
    from api.app import create_app

    # Port 9 (discard) on localhost: nothing listens, the connection is refused.
    app = create_app(make_settings(db_url, smtp_host="127.0.0.1", smtp_port=9))
    sessions = app.state.sessionmaker

    def attempted() -> OutboxMail | None:
        with sessions() as session:
            row = session.scalars(
                select(OutboxMail).where(OutboxMail.recipient == "ana@example.org")
            ).one()
            return row if row.attempts >= 1 and row.status == MailStatus.waiting else None

    with TestClient(app) as broken_mail:
        make = Factory(app, broken_mail)
        slug = make.open_event(make.organiser())
        answer = broken_mail.post(
            f"/api/v1/events/{slug}/registrations",
            json={"name": "Ana", "email": "ana@example.org", "organisation": {"name": "A"}},
        )
        assert answer.status_code == 201
        deadline = utcnow() + timedelta(seconds=20)
        row = attempted()
        while row is None and utcnow() < deadline:
            row = attempted()
        me = broken_mail.get(
            f"/api/v1/events/{slug}/me",
            headers={"X-Participant-Token": answer.json()["access_token"]},
        )
    app.state.engine.dispose()
    assert me.status_code == 200
    assert row is not None, "the delivery was never attempted"
    assert "SMTP server unreachable" in row.error
    # Tried again later, not at once; the personal link is kept for that attempt.
    assert row.next_attempt_at > row.claimed_at + timedelta(seconds=20)  # type: ignore[operator]
    assert row.context["link"] == answer.json()["link"]


def test_organisers_see_which_mails_were_sent_wait_or_failed_and_why(
    make: Factory, client: TestClient, app: Any
) -> None:
    owner = make.organiser()
    slug = make.open_event(owner)
    make.participant(slug, email="ana@example.org")
    make.participant(slug, email="ben@example.org")
    make.participant(make.open_event(make.organiser()), email="other-event@example.org")
    with app.state.sessionmaker() as session, session.begin():
        session.execute(
            update(OutboxMail)
            .where(OutboxMail.recipient == "ben@example.org")
            .values(status=MailStatus.failed, attempts=8, error="SMTPRecipientsRefused: 550")
        )
        session.execute(
            update(OutboxMail)
            .where(OutboxMail.recipient == "ana@example.org")
            .values(status=MailStatus.sent, sent_at=utcnow())
        )

    answer = client.get(f"/api/v1/events/{slug}/mails", headers=owner)
    assert answer.status_code == 200, answer.text
    mails = answer.json()
    assert mails["counts"] == {"waiting": 0, "sending": 0, "sent": 1, "failed": 1}
    assert {m["recipient"] for m in mails["items"]} == {"ana@example.org", "ben@example.org"}
    failed = client.get(f"/api/v1/events/{slug}/mails?status=failed", headers=owner).json()
    [ben] = failed["items"]
    assert (ben["recipient"], ben["template"], ben["attempts"]) == (
        "ben@example.org",
        "registration",
        8,
    )
    assert ben["error"] == "SMTPRecipientsRefused: 550"
    assert failed["total"] == 1
    refused = client.get(f"/api/v1/events/{slug}/mails?status=lost", headers=owner)
    assert refused.status_code == 422
    assert "status" in refused.json()["detail"]


def test_erasing_a_participant_removes_their_mails_from_the_outbox(
    make: Factory, client: TestClient, app: Any
) -> None:
    owner = make.organiser()
    slug = make.open_event(owner)
    ana = make.participant(slug, email="ana@example.org")
    make.participant(slug, email="ben@example.org")

    answer = client.delete(
        f"/api/v1/events/{slug}/participants/{ana['participant']['key']}", headers=owner
    )

    assert answer.status_code == 200, answer.text
    with app.state.sessionmaker() as session:
        recipients = session.scalars(select(OutboxMail.recipient)).all()
    assert recipients == ["ben@example.org"]
