"""A serving process killed (SIGKILL) after the commit of a registration and before its
mail reached the SMTP server loses no mail: the next start delivers it, exactly once."""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from matchmaking.bundle.schemas import Bundle
from matchmaking.bundle.store import import_bundle
from matchmaking.platform.db import make_engine
from matchmaking.platform.models import EventStatus, MailStatus, OutboxMail
from tests.api.conftest import Mailbox
from tests.processes import ApiServer, free_port, wait_for
from tests.production.events import busy_event_bundle

pytestmark = [pytest.mark.slow]

SLUG = "mail-crash"


class _SilentServer:
    """Accepts SMTP connections and never greets: a delivery hangs there until it times out,
    so the process can be killed with its mail claimed but not sent."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen()
        self.port = int(self.socket.getsockname()[1])
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.socket.accept()
            except OSError:
                return
            self.accepted.append(connection)

    def close(self) -> None:
        for connection in self.accepted:
            connection.close()
        self.socket.close()


@pytest.fixture
def sessions(db_url: str) -> Iterator[sessionmaker[Any]]:
    engine = make_engine(db_url)
    factory = sessionmaker(bind=engine, expire_on_commit=False)
    with factory() as session:
        event = import_bundle(session, Bundle.model_validate(busy_event_bundle(SLUG, 10)))
        event.status = EventStatus.open
        session.commit()
    yield factory
    engine.dispose()


def _register(api: ApiServer, email: str) -> dict[str, Any]:
    answer = httpx.post(
        f"{api.base}/api/v1/events/{SLUG}/registrations",
        json={"name": "Ana", "email": email, "organisation": {"name": "Wind Org"}},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    return answer.json()  # type: ignore[no-any-return]


def test_a_mail_claimed_when_the_server_is_killed_is_delivered_once_after_restart(
    db_url: str, sessions: sessionmaker[Any], tmp_path: Path
) -> None:
    log = tmp_path / "api.log"
    silent = _SilentServer()
    mailbox, port = Mailbox(), free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)

    def row(email: str) -> OutboxMail:
        with sessions() as session:
            return session.scalars(select(OutboxMail).where(OutboxMail.recipient == email)).one()

    first = f"ana-{uuid.uuid4().hex[:6]}@example.org"
    api = ApiServer(
        db_url, log, MATCHMAKING_SMTP_HOST="127.0.0.1", MATCHMAKING_SMTP_PORT=str(silent.port)
    )
    try:
        registered = _register(api, first)
        # Committed and claimed; the delivery waits for the silent server's greeting.
        wait_for(lambda: row(first).status == MailStatus.sending, "the mail to be claimed", 20, log)
        wait_for(lambda: silent.accepted, "the SMTP connection", 20, log)
        api.kill()
    finally:
        silent.close()
    assert row(first).status == MailStatus.sending  # nothing was sent, nothing was lost
    assert mailbox.messages == []

    controller.start()
    try:
        smtp = {"MATCHMAKING_SMTP_HOST": "127.0.0.1", "MATCHMAKING_SMTP_PORT": str(port)}
        api = ApiServer(db_url, log, **smtp)
        try:
            wait_for(lambda: mailbox.messages, "the mail after the restart", 30, log)
            # The worker marks the row sent only after the server accepted the mail.
            wait_for(lambda: row(first).status == MailStatus.sent, "the row marked sent", 20, log)
            delivered = row(first)
            assert (delivered.status, delivered.attempts) == (MailStatus.sent, 2)
            api.kill()
        finally:
            if api.process.poll() is None:
                api.kill()
        # Another start delivers the next mail and does not send the first one again.
        api = ApiServer(db_url, log, **smtp)
        try:
            second = f"ben-{uuid.uuid4().hex[:6]}@example.org"
            _register(api, second)
            wait_for(lambda: len(mailbox.messages) >= 2, "the second mail", 30, log)
        finally:
            api.stop()
    finally:
        controller.stop()

    assert sorted(m["To"] for m in mailbox.messages) == sorted([first, second])
    [message] = [m for m in mailbox.messages if m["To"] == first]
    assert registered["link"] in mailbox.text(message)
    assert message["Message-ID"] == f"<{row(first).key}@127.0.0.1>"
