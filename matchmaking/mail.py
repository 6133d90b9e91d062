"""E-mail: templates in `templates/email/`, sent through SMTP when configured, else logged
(in production only that a mail was not sent: mails hold personal links).

A `Mail` holds plain values only (no ORM objects), so it can be sent after the request's
transaction has committed and its session is closed: endpoints hand mails to FastAPI's
BackgroundTasks (or any thread). `send` never raises — a mail server that is down must not
break the request that caused the mail; the failure is logged.

Each template `NAME` has three files: `NAME.subject.txt`, `NAME.txt` (plain text) and
`NAME.html` (autoescaped).
"""

from __future__ import annotations

import logging
import smtplib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from functools import lru_cache
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from matchmaking import resources
from matchmaking.settings import Settings

log = logging.getLogger(__name__)

TEMPLATES = resources.TEMPLATES / "email"
SMTP_TIMEOUT_SECONDS = 15.0


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


def render(mail: Mail, settings: Settings) -> EmailMessage:
    """The message as it will be sent (subject, plain text and HTML alternatives)."""
    env = _environment()
    context = {"base_url": settings.base_url, **mail.context}
    subject = env.get_template(f"{mail.template}.subject.txt").render(context)
    message = EmailMessage()
    message["Subject"] = " ".join(subject.split())
    message["From"] = settings.mail_from
    message["To"] = mail.to
    message["Message-ID"] = make_msgid(domain="matchmaking")
    message.set_content(env.get_template(f"{mail.template}.txt").render(context))
    message.add_alternative(env.get_template(f"{mail.template}.html").render(context), "html")
    return message


def send(mail: Mail, settings: Settings) -> bool:
    """Render and deliver one mail; True when delivered (or logged in development and
    tests), False on failure or when production has no SMTP server."""
    try:
        if not settings.smtp_host and settings.environment == "production":
            # Mails carry personal links, which are secrets: a production log never holds
            # them. Nothing is rendered; the log says which mail was not sent.
            log.warning(
                "e-mail '%s' to %s not sent: no SMTP server configured", mail.template, mail.to
            )
            return False
        message = render(mail, settings)
        if not settings.smtp_host:
            log.info(
                "e-mail (no SMTP configured) to %s: %s\n%s",
                mail.to,
                message["Subject"],
                message.get_body(("plain",)).get_content(),  # type: ignore[union-attr]
            )
            return True
        with smtplib.SMTP(
            settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS
        ) as smtp:
            if settings.smtp_starttls:
                smtp.starttls()
            if settings.smtp_user:
                smtp.login(
                    settings.smtp_user,
                    settings.smtp_password.get_secret_value() if settings.smtp_password else "",
                )
            smtp.send_message(message)
        log.info("e-mail sent to %s: %s", mail.to, message["Subject"])
        return True
    except Exception:
        log.exception("e-mail to %s (%s) could not be sent", mail.to, mail.template)
        return False


def send_all(mails: Iterable[Mail], settings: Settings) -> int:
    """Send each mail in turn; returns how many were delivered."""
    return sum(send(mail, settings) for mail in mails if mail.to)
