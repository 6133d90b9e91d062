"""E-mail through a real local SMTP server; a broken mail server never breaks a request, and
the mail waits in the outbox for the next attempt."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from matchmaking.models import MailStatus, OutboxMail, utcnow
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
    assert received["To"] == "ben@example.org" and "Ana <Admin>" in received["Subject"]
    assert "Wind & <b>sun</b>" in mailbox.text(received)
    # The HTML part escapes what participants typed.
    assert "Wind &amp; &lt;b&gt;sun&lt;/b&gt;" in received.get_body(("html",)).get_content()
    mail_client.post(
        f"/api/v1/events/{slug}/me/wishes/{sent['key']}/accept", headers=ben["headers"]
    )
    answered = mailbox.wait_for(4)[3]
    assert answered["To"] == "ana@example.org" and "accepted" in answered["Subject"]


def test_registration_succeeds_when_the_mail_server_is_down_and_the_mail_waits(
    db_url: str, make: Factory, client: TestClient
) -> None:
    from api.app import create_app

    slug = make.open_event(make.organiser())
    # Port 9 (discard) on localhost: nothing listens, the connection is refused.
    app = create_app(make_settings(db_url, smtp_host="127.0.0.1", smtp_port=9))
    with TestClient(app) as broken_mail:
        answer = broken_mail.post(
            f"/api/v1/events/{slug}/registrations",
            json={"name": "Ana", "email": "ana@example.org", "organisation": {"name": "A"}},
        )
        assert answer.status_code == 201
        sessions = app.state.sessionmaker

        def attempted() -> OutboxMail | None:
            with sessions() as session:
                row = session.scalars(
                    select(OutboxMail).where(OutboxMail.recipient == "ana@example.org")
                ).one()
                return row if row.attempts >= 1 and row.status == MailStatus.waiting else None

        deadline = utcnow() + timedelta(seconds=10)
        row = attempted()
        while row is None and utcnow() < deadline:
            row = attempted()
    app.state.engine.dispose()
    assert row is not None, "the delivery was never attempted"
    assert "SMTP server unreachable" in row.error
    # Tried again later, not at once; the personal link is kept for that attempt.
    assert row.next_attempt_at > row.claimed_at + timedelta(seconds=20)  # type: ignore[operator]
    assert row.context["link"] == answer.json()["link"]
    assert (
        client.get(
            f"/api/v1/events/{slug}/me",
            headers={"X-Participant-Token": answer.json()["access_token"]},
        ).status_code
        == 200
    )
