"""E-mail: templates in `templates/email/`, and the outbox that delivers them.

A mail is never sent from the request that causes it. `queue` writes it to the outbox
(`OutboxMail`, table `outbox_mails`) in the transaction of the change itself, so the mail
exists exactly when the change does: a rolled-back change sends nothing, and a process killed
after the commit loses nothing. After the commit a deliverer sends it:

- without a broker, the in-process `MailDeliverer` thread of the API process (woken by the
  commit, and every `POLL_SECONDS` for retries);
- with a broker, the Celery workers (a task sent after the commit, and the workers' reaper
  thread every `JOB_REAPER_INTERVAL_SECONDS`).

`deliver_due` claims due mails with one conditional UPDATE (status waiting → sending, with a
random claim token), so two deliverers never take the same mail; it sends each batch over one
SMTP connection and marks each mail sent as soon as the server accepted it. A failed attempt
is retried after `MAIL_RETRY_SECONDS`, doubled after each further failure, until
`MAIL_MAX_ATTEMPTS`; then (or at once on a permanent 5xx refusal) the mail is `failed`, with
the error. The template values (personal links are secrets) are erased once a mail is sent or
given up. A deliverer that dies mid-batch leaves its mails `sending`: the in-process runner
takes them back at its next start, the workers once the claim is `LEASE_SECONDS` old. Only a
crash in the instant between the server's acceptance and the commit of `sent` sends that one
mail again (with the same Message-ID).

Without an SMTP server, development and tests log that a mail would be sent, and production
that it was not — never the text: it holds personal links.

Each template `NAME` has three files: `NAME.subject.txt`, `NAME.txt` (plain text) and
`NAME.html` (autoescaped).
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache
from typing import Any, cast
from urllib.parse import urlsplit

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy import Table, bindparam, func, insert, select, update
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from matchmaking.platform import resources
from matchmaking.platform.models import MailStatus, OutboxMail, utcnow
from matchmaking.platform.settings import Settings

log = logging.getLogger(__name__)

TEMPLATES = resources.TEMPLATES / "email"
SMTP_TIMEOUT_SECONDS = 15.0
#: Mails sent over one SMTP connection.
BATCH = 50
#: A claim this old (seconds) was left by a deliverer that died.
LEASE_SECONDS = 300.0
#: The in-process deliverer looks for due mails (retries) this often.
POLL_SECONDS = 5.0
#: Longest wait between two attempts.
MAX_RETRY_SECONDS = 3600.0
#: The in-process deliverer, woken by a commit, waits this long for more mails first.
SETTLE_SECONDS = 0.1

SessionFactory = Callable[[], Session]


@dataclass(frozen=True)
class Mail:
    """One e-mail to one address, rendered from template `template` with `context`."""

    to: str
    template: str
    context: Mapping[str, Any] = field(default_factory=dict)


@lru_cache
def _environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=False),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def mail_domain(settings: Settings) -> str:
    """The domain of Message-IDs: the host of the service's public address."""
    return urlsplit(settings.base_url).hostname or "localhost"


def render(
    mail: Mail, settings: Settings, *, key: str | None = None, date: datetime | None = None
) -> EmailMessage:
    """The message as it will be sent (subject, plain text and HTML alternatives).

    `key` (the outbox row's) makes the Message-ID, the same on every attempt; `date` is the
    moment the mail was queued.
    """
    env = _environment()
    context = {"base_url": settings.base_url, **mail.context}
    subject = env.get_template(f"{mail.template}.subject.txt").render(context)
    message = EmailMessage()
    message["Subject"] = " ".join(subject.split())
    message["From"] = settings.mail_from
    message["To"] = mail.to
    moment = date or utcnow()
    # SQLite gives stored times back without their zone; they are UTC.
    message["Date"] = format_datetime(moment if moment.tzinfo else moment.replace(tzinfo=UTC))
    message["Message-ID"] = f"<{key or uuid.uuid4().hex}@{mail_domain(settings)}>"
    message.set_content(env.get_template(f"{mail.template}.txt").render(context))
    message.add_alternative(env.get_template(f"{mail.template}.html").render(context), "html")
    return message


# --- writing to the outbox ----------------------------------------------------------------------

_QUEUED = "matchmaking.platform.mail.queued"


def queue(session: Session, mails: Iterable[Mail], *, event_id: int | None = None) -> int:
    """Add `mails` to the outbox in the session's transaction (mails without an address are
    left out); returns how many. They are sent after the commit, never if it rolls back."""
    now = utcnow()
    rows = [_outbox_row(mail, event_id, now) for mail in mails if mail.to]
    if rows:
        # One multi-row INSERT: a publication queues a mail for every participant. Into the
        # table, not through the ORM's bulk path, whose bookkeeping cost more CPU than the
        # statement (a wish queues one mail); after the flush that path would have done.
        if session.autoflush:
            session.flush()
        session.execute(_INSERT_OUTBOX, rows)
        queued(session)
    return len(rows)


def _outbox_row(mail: Mail, event_id: int | None, now: datetime) -> dict[str, Any]:
    return {
        "key": uuid.uuid4().hex,
        "event_id": event_id,
        "recipient": mail.to,
        "template": mail.template,
        "context": dict(mail.context),
        "status": MailStatus.waiting,
        "attempts": 0,
        "created_at": now,
        "next_attempt_at": now,
        "claim": "",
        "error": "",
    }


def queued(session: Session) -> None:
    """Tell the deliverers to look after the commit of `session`'s transaction: it wrote a
    mail to the outbox (`queue` does; a caller that inserts with `insert_for_each` too)."""
    session.info[_QUEUED] = True


#: Columns of an outbox row as `insert_for_each` binds them (`mail_<column>`).
_ROW_COLUMNS = (
    "key",
    "event_id",
    "recipient",
    "template",
    "context",
    "status",
    "attempts",
    "created_at",
    "next_attempt_at",
    "claim",
    "error",
)


def insert_for_each(rows_of: Any) -> Any:
    """An INSERT of one outbox row for each row of `rows_of` (a CTE of the caller's
    statement): folded into that statement, the mail is written exactly when the row it is
    about is, in the same round trip (PostgreSQL: a data-modifying CTE). Its values are
    bound per execution by `for_each_parameters`; the caller calls `queued` when a row was
    written."""
    return insert(_OUTBOX_TABLE).from_select(
        [_OUTBOX[name] for name in _ROW_COLUMNS],
        select(
            *(bindparam(f"mail_{name}", type_=_OUTBOX[name].type) for name in _ROW_COLUMNS)
        ).select_from(rows_of),
    )


def for_each_parameters(mail: Mail, *, event_id: int | None) -> dict[str, Any]:
    """The parameters of `insert_for_each` for `mail`: the row `queue` would write."""
    row = _outbox_row(mail, event_id, utcnow())
    return {f"mail_{name}": row[name] for name in _ROW_COLUMNS}


#: The outbox as a table: its statements run on the table (Core), not through the ORM, whose
#: bookkeeping for DML cost more CPU than the statements (a wish queues one mail, and the
#: deliverer handles each batch in three transactions).
_OUTBOX_TABLE = cast(Table, OutboxMail.__table__)
_OUTBOX = _OUTBOX_TABLE.c
_INSERT_OUTBOX = insert(_OUTBOX_TABLE)


_wakers_lock = threading.Lock()
_wakers: dict[Engine, list[Callable[[], None]]] = {}


def on_commit_of_mail(engine: Engine, wake: Callable[[], None]) -> Callable[[], None]:
    """Call `wake` after each commit of a transaction on `engine` that queued a mail; returns
    the function that stops it."""
    with _wakers_lock:
        _wakers.setdefault(engine, []).append(wake)

    def remove() -> None:
        with _wakers_lock:
            wakers = _wakers.get(engine, [])
            if wake in wakers:
                wakers.remove(wake)
            if not wakers:
                _wakers.pop(engine, None)

    return remove


@sa_event.listens_for(Session, "after_commit")
def _wake_deliverers(session: Session) -> None:
    if not session.info.pop(_QUEUED, False):
        return
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    with _wakers_lock:
        wakers = list(_wakers.get(engine, []))
    for wake in wakers:
        try:
            wake()
        except Exception:  # the mail is stored; the next round of the deliverer sends it
            log.exception("could not wake the mail deliverer")


@sa_event.listens_for(Session, "after_rollback")
def _forget_queued(session: Session) -> None:
    session.info.pop(_QUEUED, None)


# --- delivering -------------------------------------------------------------------------------


@dataclass(slots=True)
class Delivery:
    """What one `deliver_due` did."""

    sent: int = 0
    retried: int = 0
    failed: int = 0


@dataclass(frozen=True, slots=True)
class _Claimed:
    id: int
    key: str
    mail: Mail
    created_at: datetime
    attempts: int


def deliver_due(
    session_factory: SessionFactory,
    settings: Settings,
    *,
    batch: int = BATCH,
    lease_seconds: float | None = LEASE_SECONDS,
) -> Delivery:
    """Send every mail that is due, `batch` at a time over one SMTP connection each. Never
    raises for a mail that cannot be sent: its row says why, and when it is tried again.

    `lease_seconds`: `sending` claims older than this are taken back first (None: none are).
    """
    report = Delivery()
    if lease_seconds is not None:
        release_claims(session_factory, settings, older_than_seconds=lease_seconds)
    while True:
        token, claimed = _claim(session_factory, batch)
        if not claimed:
            return report
        _deliver_batch(session_factory, settings, token, claimed, report)
        if len(claimed) < batch:
            # Every mail due at the claim was in it; those queued since wake the deliverer
            # again (the in-process one after their commit, the workers by their task).
            return report


def release_claims(
    session_factory: SessionFactory, settings: Settings, *, older_than_seconds: float | None
) -> int:
    """Put mails left `sending` by a deliverer that died back to `waiting` (or fail them after
    `mail_max_attempts`); None takes every claim (the in-process runner at its start: no
    other process delivers this installation's mails). Returns how many were taken back."""
    condition = [_OUTBOX.status == MailStatus.sending]
    if older_than_seconds is not None:
        cutoff = utcnow() - timedelta(seconds=older_than_seconds)
        condition.append(_OUTBOX.claimed_at < cutoff)
    with session_factory() as session, session.begin():
        given_up = session.execute(
            update(_OUTBOX_TABLE)
            .where(*condition, _OUTBOX.attempts >= settings.mail_max_attempts)
            .values(
                status=MailStatus.failed,
                claim="",
                context={},
                error="the delivery was interrupted on every attempt",
            )
        ).rowcount  # type: ignore[attr-defined]
        released = session.execute(
            update(_OUTBOX_TABLE)
            .where(*condition)
            .values(status=MailStatus.waiting, claim="", next_attempt_at=utcnow())
        ).rowcount  # type: ignore[attr-defined]
    if given_up or released:
        log.warning("%d interrupted mail(s) queued again, %d given up", released, given_up)
    return int(released) + int(given_up)


def _claim(session_factory: SessionFactory, batch: int) -> tuple[str, list[_Claimed]]:
    token = uuid.uuid4().hex
    with session_factory() as session, session.begin():
        now = utcnow()
        due = (
            select(_OUTBOX.id)
            .where(_OUTBOX.status == MailStatus.waiting, _OUTBOX.next_attempt_at <= now)
            .order_by(_OUTBOX.next_attempt_at, _OUTBOX.id)
            .limit(batch)
        )
        # Conditional: a row another deliverer claimed meanwhile is no longer `waiting`.
        session.execute(
            update(_OUTBOX_TABLE)
            .where(_OUTBOX.id.in_(due), _OUTBOX.status == MailStatus.waiting)
            .values(
                status=MailStatus.sending,
                claim=token,
                claimed_at=now,
                attempts=_OUTBOX.attempts + 1,
            )
        )
        # The columns a delivery needs, as plain rows (entities cost more than the mail).
        rows = session.execute(_CLAIMED, {"claim": token}).all()
        return token, [
            _Claimed(
                id=id_,
                key=key,
                mail=Mail(to=recipient, template=template, context=context),
                created_at=created_at,
                attempts=attempts,
            )
            for id_, key, recipient, template, context, created_at, attempts in rows
        ]


_CLAIMED = (
    select(
        _OUTBOX.id,
        _OUTBOX.key,
        _OUTBOX.recipient,
        _OUTBOX.template,
        _OUTBOX.context,
        _OUTBOX.created_at,
        _OUTBOX.attempts,
    )
    .where(_OUTBOX.claim == bindparam("claim"), _OUTBOX.status == MailStatus.sending)
    .order_by(_OUTBOX.id)
)


def _deliver_batch(
    session_factory: SessionFactory,
    settings: Settings,
    token: str,
    claimed: list[_Claimed],
    report: Delivery,
) -> None:
    outcome = _Outcome(session_factory, settings, token, report)
    if not settings.smtp_host:
        # Nothing leaves the process, so nothing can be sent twice: the whole batch is
        # written in one transaction (with SMTP, each mail is marked as soon as it is sent).
        for item in claimed:
            if settings.environment == "production":
                # One line a mail: the error says it all (a warning that it was not sent
                # came before it, and cost as much CPU as the line itself).
                log.error(
                    "e-mail '%s' to %s given up: %s",
                    item.mail.template,
                    item.mail.to,
                    "no SMTP server configured",
                )
            else:
                # Never the text: it holds the participant's personal link.
                log.info(
                    "e-mail '%s' to %s would be sent (no SMTP server configured)",
                    item.mail.template,
                    item.mail.to,
                )
        if settings.environment == "production":
            report.failed += outcome.write_all(
                claimed, status=MailStatus.failed, error="no SMTP server configured", context={}
            )
        else:
            report.sent += outcome.write_all(
                claimed, status=MailStatus.sent, sent_at=utcnow(), context={}
            )
        return
    try:
        smtp = _connect(settings)
    except Exception as exc:
        log.warning("SMTP server %s unreachable: %s", settings.smtp_host, exc)
        for item in claimed:
            outcome.retry(item, f"SMTP server unreachable: {_describe(exc)}")
        return
    try:
        for index, item in enumerate(claimed):
            try:
                message = render(item.mail, settings, key=item.key, date=item.created_at)
            except Exception as exc:  # a template error: no retry makes it right
                log.exception("e-mail '%s' could not be written", item.mail.template)
                outcome.give_up(item, f"the mail could not be written: {_describe(exc)}")
                continue
            try:
                smtp.send_message(message)
            except (smtplib.SMTPRecipientsRefused, smtplib.SMTPResponseException) as exc:
                if _permanent(exc):
                    outcome.give_up(item, f"refused by the SMTP server: {_describe(exc)}")
                else:
                    outcome.retry(item, f"refused for now by the SMTP server: {_describe(exc)}")
                continue
            except Exception as exc:  # the connection is gone: the rest waits for a retry
                log.warning("SMTP connection lost: %s", exc)
                for rest in claimed[index:]:
                    outcome.retry(rest, f"SMTP connection lost: {_describe(exc)}")
                return
            if not outcome.sent(item):
                log.error("e-mail claim %s was taken from this deliverer; stopping", token)
                return
            log.info("e-mail '%s' sent to %s", item.mail.template, item.mail.to)
    finally:
        try:
            smtp.quit()
        except Exception:
            smtp.close()


def _connect(settings: Settings) -> smtplib.SMTP:
    if not settings.smtp_host:
        raise AssertionError("settings.smtp_host")
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.smtp_tls:
        smtp = smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS, context=context
        )
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS)
    try:
        if settings.smtp_starttls:
            smtp.starttls(context=context)
        if settings.smtp_user:
            password = settings.smtp_password
            secret = getattr(password, "get_secret_value", None)
            smtp.login(settings.smtp_user, str(secret() if secret else password or ""))
    except Exception:
        smtp.close()
        raise
    return smtp


def _permanent(exc: Exception) -> bool:
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in exc.recipients.values()]
        return bool(codes) and all(code >= 500 for code in codes)
    return isinstance(exc, smtplib.SMTPResponseException) and exc.smtp_code >= 500


def _describe(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}"[:1000]


class _Outcome:
    """Writes what became of each claimed mail, each in its own short transaction, only
    while the claim is still this deliverer's; each write also renews the claim of the rest
    of the batch, so a long batch is never taken for a dead one."""

    def __init__(
        self, session_factory: SessionFactory, settings: Settings, token: str, report: Delivery
    ) -> None:
        self.session_factory = session_factory
        self.settings = settings
        self.token = token
        self.report = report

    def _write(self, item: _Claimed, **values: Any) -> bool:
        with self.session_factory() as session, session.begin():
            result = session.execute(
                update(_OUTBOX_TABLE)
                .where(
                    _OUTBOX.id == item.id,
                    _OUTBOX.claim == self.token,
                    _OUTBOX.status == MailStatus.sending,
                )
                .values(claim="", **values)
            )
            session.execute(
                update(_OUTBOX_TABLE)
                .where(_OUTBOX.claim == self.token, _OUTBOX.status == MailStatus.sending)
                .values(claimed_at=utcnow())
            )
            return bool(result.rowcount == 1)  # type: ignore[attr-defined]

    def write_all(self, items: list[_Claimed], **values: Any) -> int:
        """What became of every mail of the batch, in one statement; how many were still
        this deliverer's."""
        with self.session_factory() as session, session.begin():
            result = session.execute(
                update(_OUTBOX_TABLE)
                .where(
                    _OUTBOX.id.in_([item.id for item in items]),
                    _OUTBOX.claim == self.token,
                    _OUTBOX.status == MailStatus.sending,
                )
                .values(claim="", **values)
            )
            return int(result.rowcount)  # type: ignore[attr-defined]

    def sent(self, item: _Claimed) -> bool:
        done = self._write(item, status=MailStatus.sent, sent_at=utcnow(), context={})
        self.report.sent += done
        return done

    def give_up(self, item: _Claimed, error: str) -> None:
        log.error("e-mail '%s' to %s given up: %s", item.mail.template, item.mail.to, error)
        self.report.failed += self._write(item, status=MailStatus.failed, error=error, context={})

    def retry(self, item: _Claimed, error: str) -> None:
        if item.attempts >= self.settings.mail_max_attempts:
            self.give_up(item, f"{error} (after {item.attempts} attempts)")
            return
        wait = min(self.settings.mail_retry_seconds * 2 ** (item.attempts - 1), MAX_RETRY_SECONDS)
        self.report.retried += self._write(
            item,
            status=MailStatus.waiting,
            error=error,
            next_attempt_at=utcnow() + timedelta(seconds=wait),
        )


# --- the in-process deliverer -------------------------------------------------------------------


class MailDeliverer:
    """A thread of the API process that delivers the outbox when no broker is configured:
    right after a commit that queued mail, and every `poll_seconds` for retries."""

    def __init__(
        self,
        session_factory: SessionFactory,
        settings: Settings,
        *,
        poll_seconds: float = POLL_SECONDS,
    ) -> None:
        self.session_factory = session_factory
        self.settings = settings
        self.poll_seconds = poll_seconds
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="mail-outbox", daemon=True)
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        with self.session_factory() as session:
            engine = session.get_bind()
        if not isinstance(engine, Engine):
            raise AssertionError("isinstance(engine, Engine)")
        self._unsubscribe = on_commit_of_mail(engine, self._wake.set)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
        self._stopped.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _loop(self) -> None:
        try:
            # No other process delivers this installation's mails (one API process without a
            # broker): a claim left at start-up is from a run that died.
            release_claims(self.session_factory, self.settings, older_than_seconds=None)
        except Exception:
            log.exception("interrupted mails could not be taken back; retrying later")
        released_at = time.monotonic()
        while not self._stopped.is_set():
            self._wake.clear()
            # Claims this thread left in a round that failed are taken back once their lease
            # is over, looked for once per poll (not at each of a rush's many rounds).
            release = time.monotonic() - released_at >= self.poll_seconds
            try:
                deliver_due(
                    self.session_factory,
                    self.settings,
                    lease_seconds=LEASE_SECONDS if release else None,
                )
                if release:
                    released_at = time.monotonic()
            except Exception:  # the database is away: try again at the next round
                log.exception("mail delivery failed; retrying")
            if self._wake.wait(self.poll_seconds):
                # Woken by a commit: during a rush (a wish cut-off, a publication) the mails
                # of the next moment's commits gather and go in one round, not one by one.
                self._stopped.wait(SETTLE_SECONDS)


# --- what an organiser sees ---------------------------------------------------------------------


def outbox_counts(session: Session, event_id: int) -> dict[str, int]:
    """How many of the event's mails are waiting, sending, sent and failed."""
    counts = {status.value: 0 for status in MailStatus}
    rows = session.execute(
        select(OutboxMail.status, func.count())
        .where(OutboxMail.event_id == event_id)
        .group_by(OutboxMail.status)
    )
    for status, count in rows:
        counts[MailStatus(status).value] = int(count)
    return counts
