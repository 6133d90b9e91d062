"""The mail outbox against a real SMTP server (aiosmtpd) and real databases: mails exist
exactly when their change commits, go out in batches over one connection with Date and
Message-ID, are retried with back-off, and are sent once even with several deliverers."""

from __future__ import annotations

import logging
import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from datetime import timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import event as sa_event
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from matchmaking.platform.db import make_engine
from matchmaking.platform.mail import Mail, deliver_due, queue
from matchmaking.platform.models import MailStatus, OutboxMail, utcnow
from matchmaking.platform.settings import Settings
from tests.api.conftest import Mailbox, make_settings

LINK = "http://matchmaking.test/e/expo/login?token=personal-secret"


def _mail(to: str) -> Mail:
    return Mail(
        to=to,
        template="registration",
        context={"event_name": "Expo", "venue": "Hall 2", "participant_name": "Ana", "link": LINK},
    )


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(db_url)
    yield sessionmaker(bind=engine, expire_on_commit=False)
    engine.dispose()


def _queue(sessions: sessionmaker[Session], *addresses: str) -> None:
    with sessions() as session, session.begin():
        queue(session, [_mail(a) for a in addresses])


def _rows(sessions: sessionmaker[Session]) -> list[OutboxMail]:
    with sessions() as session:
        return list(session.scalars(select(OutboxMail).order_by(OutboxMail.id)))


def _make_due(sessions: sessionmaker[Session]) -> None:
    """Let the back-off pass (instead of waiting for it)."""
    with sessions() as session, session.begin():
        session.execute(
            update(OutboxMail)
            .where(OutboxMail.status == MailStatus.waiting)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )


def _smtp(port: int, **overrides: Any) -> Settings:
    return make_settings("sqlite://", smtp_host="127.0.0.1", smtp_port=port, **overrides)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_rolled_back_change_leaves_no_mail(sessions: sessionmaker[Session]) -> None:
    with sessions() as session, session.begin():
        queue(session, [_mail("ana@example.org")])
        session.rollback()
    _queue(sessions, "ben@example.org")
    assert [row.recipient for row in _rows(sessions)] == ["ben@example.org"]


def test_a_batch_goes_over_one_connection_with_date_and_message_id(
    sessions: sessionmaker[Session], smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    _queue(sessions, "a@example.org", "b@example.org", "c@example.org")
    before = utcnow()

    report = deliver_due(sessions, _smtp(port))

    assert report.sent == 3
    messages = mailbox.wait_for(3)
    assert sorted(m["To"] for m in messages) == ["a@example.org", "b@example.org", "c@example.org"]
    assert len(set(mailbox.peers)) == 1  # one SMTP connection for the batch
    rows = _rows(sessions)
    assert {m["Message-ID"] for m in messages} == {f"<{r.key}@matchmaking.test>" for r in rows}
    for message in messages:
        assert abs(parsedate_to_datetime(message["Date"]) - before) < timedelta(minutes=1)
    assert all(r.status == MailStatus.sent and r.sent_at and r.attempts == 1 for r in rows)
    # The personal link is gone from the database once the mail is out.
    assert all(r.context == {} for r in rows)

    assert deliver_due(sessions, _smtp(port)).sent == 0
    assert len(mailbox.messages) == 3


def test_an_unreachable_server_is_retried_with_growing_waits_then_given_up(
    sessions: sessionmaker[Session],
) -> None:
    settings = _smtp(_closed_port(), mail_max_attempts=3, mail_retry_seconds=10)
    _queue(sessions, "a@example.org")

    waits = []
    for attempt in (1, 2):
        assert deliver_due(sessions, settings).retried == 1
        [row] = _rows(sessions)
        assert (row.status, row.attempts) == (MailStatus.waiting, attempt)
        assert "SMTP server unreachable" in row.error
        assert row.context["link"] == LINK  # kept for the next attempt
        waits.append((row.next_attempt_at - row.claimed_at).total_seconds())  # type: ignore[operator]
        # Not due yet: nothing is tried before the wait is over.
        assert deliver_due(sessions, settings).retried == 0
        _make_due(sessions)
    assert waits[0] == pytest.approx(10, abs=2)
    assert waits[1] == pytest.approx(20, abs=2)

    assert deliver_due(sessions, settings).failed == 1
    [row] = _rows(sessions)
    assert (row.status, row.attempts) == (MailStatus.failed, 3)
    assert "after 3 attempts" in row.error
    assert row.context == {}


def test_a_retried_mail_keeps_its_message_id(
    sessions: sessionmaker[Session], smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    _queue(sessions, "a@example.org")
    deliver_due(sessions, _smtp(_closed_port()))
    _make_due(sessions)

    assert deliver_due(sessions, _smtp(port)).sent == 1

    [row] = _rows(sessions)
    [message] = mailbox.wait_for(1)
    assert message["Message-ID"] == f"<{row.key}@matchmaking.test>"
    assert (row.status, row.attempts) == (MailStatus.sent, 2)
    assert LINK in mailbox.text(message)


class _Refusing(Mailbox):
    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address.startswith("gone@"):
            return "550 5.1.1 no such mailbox"
        if address.startswith("full@"):
            return "452 4.2.2 mailbox full, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"


def test_a_permanent_refusal_fails_at_once_and_a_temporary_one_is_retried(
    sessions: sessionmaker[Session],
) -> None:
    from aiosmtpd.controller import Controller

    mailbox, port = _Refusing(), _closed_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        _queue(sessions, "gone@example.org", "full@example.org", "ok@example.org")
        report = deliver_due(sessions, _smtp(port))
    finally:
        controller.stop()

    assert (report.sent, report.retried, report.failed) == (1, 1, 1)
    rows = {r.recipient: r for r in _rows(sessions)}
    assert rows["gone@example.org"].status == MailStatus.failed
    assert "550" in rows["gone@example.org"].error
    assert rows["full@example.org"].status == MailStatus.waiting
    assert "452" in rows["full@example.org"].error
    assert rows["ok@example.org"].status == MailStatus.sent
    assert [m["To"] for m in mailbox.messages] == ["ok@example.org"]


class _Slow(Mailbox):
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import asyncio

        await asyncio.sleep(0.02)
        return await super().handle_DATA(server, session, envelope)


def test_deliverers_running_at_once_send_each_mail_exactly_once(
    sessions: sessionmaker[Session],
) -> None:
    from aiosmtpd.controller import Controller

    mailbox, port = _Slow(), _closed_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    _queue(sessions, *(f"p{n}@example.org" for n in range(40)))
    settings = _smtp(port)
    start = threading.Barrier(3)
    errors: list[BaseException] = []

    def deliver() -> None:
        try:
            start.wait()
            deliver_due(sessions, settings, batch=4)
        except BaseException as exc:  # pragma: no cover - shown by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=deliver) for _ in range(3)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        controller.stop()

    assert errors == []
    recipients = sorted(m["To"] for m in mailbox.messages)
    assert recipients == sorted(f"p{n}@example.org" for n in range(40))  # each once
    assert len(set(mailbox.peers)) > 1  # the deliverers really ran side by side
    assert all(r.status == MailStatus.sent and r.attempts == 1 for r in _rows(sessions))


def test_a_claim_left_by_a_dead_deliverer_is_taken_back_after_its_lease(
    sessions: sessionmaker[Session], smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, port = smtp_server
    _queue(sessions, "dead@example.org", "busy@example.org")
    with sessions() as session, session.begin():
        for address, age in (("dead@example.org", 400), ("busy@example.org", 5)):
            session.execute(
                update(OutboxMail)
                .where(OutboxMail.recipient == address)
                .values(
                    status=MailStatus.sending,
                    claim="another-deliverer",
                    claimed_at=utcnow() - timedelta(seconds=age),
                    attempts=1,
                )
            )

    assert deliver_due(sessions, _smtp(port), lease_seconds=300).sent == 1

    assert [m["To"] for m in mailbox.wait_for(1)] == ["dead@example.org"]
    rows = {r.recipient: r for r in _rows(sessions)}
    assert (rows["dead@example.org"].status, rows["dead@example.org"].attempts) == (
        MailStatus.sent,
        2,
    )
    assert rows["busy@example.org"].status == MailStatus.sending  # still its deliverer's


def test_without_smtp_development_logs_that_a_mail_would_be_sent_but_not_its_text(
    sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    _queue(sessions, "a@example.org")
    with caplog.at_level(logging.DEBUG, logger="matchmaking.platform.mail"):
        assert deliver_due(sessions, make_settings("sqlite://")).sent == 1
    assert "would be sent" in caplog.text
    assert "a@example.org" in caplog.text
    assert "personal-secret" not in caplog.text
    [row] = _rows(sessions)
    assert row.status == MailStatus.sent


def test_without_smtp_production_fails_the_mail_and_never_logs_the_personal_link(
    sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    settings = make_settings(
        "sqlite://", environment="production", secret_key="a-production-key-" + "x" * 40
    )
    _queue(sessions, "a@example.org")
    with caplog.at_level(logging.DEBUG, logger="matchmaking.platform.mail"):
        assert deliver_due(sessions, settings).failed == 1
    assert "personal-secret" not in caplog.text
    assert "registration" in caplog.text
    assert "a@example.org" in caplog.text
    [row] = _rows(sessions)
    assert (row.status, row.error, row.context) == (
        MailStatus.failed,
        "no SMTP server configured",
        {},
    )


def test_without_smtp_a_whole_batch_is_written_in_one_statement(
    sessions: sessionmaker[Session], caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing leaves the process without an SMTP server: the claim and one write for the
    batch (a rush of wishes queues a mail per wish), and every mail is still named in the
    log and marked."""
    settings = make_settings(
        "sqlite://", environment="production", secret_key="a-production-key-" + "x" * 40
    )
    addresses = [f"p{n}@example.org" for n in range(7)]
    _queue(sessions, *addresses)
    engine = sessions.kw["bind"]
    updates: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.lstrip().upper().startswith("UPDATE"):
            updates.append(statement)

    sa_event.listen(engine, "before_cursor_execute", record)
    try:
        with caplog.at_level(logging.DEBUG, logger="matchmaking.platform.mail"):
            report = deliver_due(sessions, settings, lease_seconds=None)
    finally:
        sa_event.remove(engine, "before_cursor_execute", record)
    assert report.failed == 7
    # The claim of the seven, and their outcome: no claim found nothing after a short batch.
    assert len(updates) == 2
    assert all(a in caplog.text for a in addresses)
    assert "personal-secret" not in caplog.text
    rows = _rows(sessions)
    assert [(r.status, r.error, r.context, r.claim) for r in rows] == [
        (MailStatus.failed, "no SMTP server configured", {}, "")
    ] * 7


# --- TLS ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (made with the openssl command)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.mark.parametrize("mode", ["starttls", "smtps"])
def test_mail_goes_over_tls_when_asked(
    mode: str,
    sessions: sessionmaker[Session],
    certificate: tuple[Path, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from aiosmtpd.controller import Controller

    cert, key = certificate
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_context.load_cert_chain(cert, key)
    mailbox, port = Mailbox(), _closed_port()
    if mode == "starttls":
        controller = Controller(
            mailbox,
            hostname="127.0.0.1",
            port=port,
            tls_context=server_context,
            require_starttls=True,
        )
    else:
        controller = Controller(
            mailbox, hostname="127.0.0.1", port=port, ssl_context=server_context
        )
    # The client trusts the test certificate only (the default context reads SSL_CERT_FILE).
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    # A plain client of an SMTPS server waits for a greeting that never comes.
    monkeypatch.setattr("matchmaking.platform.mail.SMTP_TIMEOUT_SECONDS", 2.0)
    controller.start()
    try:
        _queue(sessions, "a@example.org")
        settings = _smtp(port, smtp_starttls=mode == "starttls", smtp_tls=mode == "smtps")
        assert deliver_due(sessions, settings).sent == 1
        # Without TLS the server refuses (STARTTLS required) or does not speak SMTP at all.
        _queue(sessions, "b@example.org")
        assert deliver_due(sessions, _smtp(port)).sent == 0
    finally:
        controller.stop()
    assert [m["To"] for m in mailbox.messages] == ["a@example.org"]


def test_settings_refuse_starttls_together_with_smtps() -> None:
    with pytest.raises(ValidationError, match="choose one"):
        Settings(smtp_host="mail.example.org", smtp_starttls=True, smtp_tls=True)


class _Slower(Mailbox):
    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import asyncio

        await asyncio.sleep(0.5)
        return await super().handle_DATA(server, session, envelope)


def test_a_long_batch_renews_its_claim_so_no_other_deliverer_takes_it_over(
    sessions: sessionmaker[Session],
) -> None:
    from aiosmtpd.controller import Controller

    mailbox, port = _Slower(), _closed_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    _queue(sessions, *(f"p{n}@example.org" for n in range(6)))
    settings = _smtp(port)
    done = threading.Event()
    # One batch of six takes about 3 s, longer than the 2 s lease of the second deliverer.
    first = threading.Thread(target=lambda: (deliver_due(sessions, settings), done.set()))
    try:
        first.start()
        while not done.is_set():
            deliver_due(sessions, settings, lease_seconds=2.0)
            done.wait(0.2)
        first.join(30)
    finally:
        controller.stop()

    assert sorted(m["To"] for m in mailbox.messages) == [f"p{n}@example.org" for n in range(6)]
    assert len(set(mailbox.peers)) == 1
    assert all(r.status == MailStatus.sent and r.attempts == 1 for r in _rows(sessions))
