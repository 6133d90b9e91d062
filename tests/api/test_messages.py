"""Organisers write to participants: segments and their counts, a dry run, sending through
the outbox to a real SMTP server, field-named refusals that queue nothing, and who may not
(SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from matchmaking.platform.models import OutboxMail
from tests.api.conftest import Factory, Mailbox


def _world(make: Factory, client: TestClient) -> tuple[dict[str, str], str, list[dict[str, Any]]]:
    """An open event: Ana (Canada, online, asked Bo to meet), Bo (EU, has Ana's request
    waiting), Cleo (EU, no wish)."""
    owner = make.organiser(name="Olivia Organiser")
    slug = make.event(owner, mode="hybrid")
    make.ok(
        make.client.post(
            f"/api/v1/events/{slug}/locations",
            json={"key": "video", "name": "Video room", "kind": "online", "capacity": 5},
            headers=owner,
        ),
        201,
    )
    make.ok(make.client.post(f"/api/v1/events/{slug}/open", headers=owner), 200)
    ana = make.participant(
        slug,
        name="Ana Côté",
        attendance="online",
        organisation={"name": "Énergie Québec", "kind": "cluster", "delegation": "Canada"},
    )
    bo = make.participant(
        slug, name="Bo Nowak", organisation={"name": "Wind Aarhus", "delegation": "EU"}
    )
    cleo = make.participant(
        slug, name="Cleo Rossi", organisation={"name": "Lab Torino", "delegation": "EU"}
    )
    sent = client.post(
        f"/api/v1/events/{slug}/me/wishes",
        json={"to": bo["participant"]["key"]},
        headers=ana["headers"],
    )
    assert sent.status_code == 201, sent.text
    return owner, slug, [ana, bo, cleo]


def _counts(client: TestClient, slug: str, owner: dict[str, str]) -> dict[str, int]:
    answer = client.get(f"/api/v1/events/{slug}/messages/segments", headers=owner)
    assert answer.status_code == 200, answer.text
    return {s["key"]: s["recipients"] for s in answer.json()["segments"]}


def test_each_segment_reaches_the_right_people(make: Factory, client: TestClient) -> None:
    owner, slug, _ = _world(make, client)
    assert _counts(client, slug, owner) == {
        "everyone": 3,
        "no_wishes": 2,
        "unanswered": 1,
        "unscheduled": 0,  # nothing is published yet
        "online": 1,
        "delegation": 3,
    }
    message = {"subject": "Welcome", "body": "See you in Montréal."}

    def names(**body: Any) -> list[str]:
        answer = client.post(
            f"/api/v1/events/{slug}/messages",
            params={"dry_run": "true"},
            json={**message, **body},
            headers=owner,
        )
        assert answer.status_code == 202, answer.text
        assert answer.json()["sent"] is False
        return list(answer.json()["names"])

    assert names(segment="no_wishes") == ["Bo Nowak", "Cleo Rossi"]
    assert names(segment="unanswered") == ["Bo Nowak"]
    assert names(segment="online") == ["Ana Côté"]
    assert names(segment="delegation", delegation="eu") == ["Bo Nowak", "Cleo Rossi"]
    with make.app.state.sessionmaker() as db:
        assert db.scalar(select(func.count()).select_from(OutboxMail).where(
            OutboxMail.template == "organiser_message"
        )) == 0  # fmt: skip


def test_bad_fields_are_named_and_nothing_is_queued(make: Factory, client: TestClient) -> None:
    owner, slug, _ = _world(make, client)
    url = f"/api/v1/events/{slug}/messages"
    cases = [
        ({"segment": "everyone", "subject": "   ", "body": "x"}, "body.subject"),
        ({"segment": "everyone", "subject": "Hi", "body": " \n "}, "body.body"),
        ({"segment": "everyone", "subject": "Hi\nthere", "body": "x"}, "body.subject"),
        ({"segment": "all", "subject": "Hi", "body": "x"}, "body.segment"),
        ({"segment": "delegation", "subject": "Hi", "body": "x"}, "body.delegation"),
        ({"segment": "delegation", "delegation": "Mars", "subject": "Hi", "body": "x"},
         "body.delegation"),
    ]  # fmt: skip
    for body, field in cases:
        answer = client.post(url, json=body, headers=owner)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert field in {e["field"] for e in answer.json()["errors"]}, answer.json()
    with make.app.state.sessionmaker() as db:
        assert db.scalar(select(func.count()).select_from(OutboxMail).where(
            OutboxMail.template == "organiser_message"
        )) == 0  # fmt: skip


def test_only_the_events_organisers_may_write(make: Factory, client: TestClient) -> None:
    _owner, slug, people = _world(make, client)
    url = f"/api/v1/events/{slug}/messages"
    body = {"segment": "everyone", "subject": "Hi", "body": "x"}
    assert client.post(url, json=body).status_code == 401
    assert client.post(url, json=body, headers=people[0]["headers"]).status_code == 401
    assert client.post(url, json=body, headers=make.organiser()).status_code == 404
    assert client.get(f"{url}/segments", headers=make.organiser()).status_code == 404
    assert client.get(f"{url}/segments").status_code == 401


def test_a_message_reaches_each_recipient_by_mail(
    mail_client: TestClient, smtp_server: tuple[Mailbox, int]
) -> None:
    mailbox, _ = smtp_server
    make = Factory(mail_client.app, mail_client)  # type: ignore[arg-type]
    owner, slug, people = _world(make, mail_client)
    registration_mails = len(mailbox.wait_for(4))  # three registrations and a wish
    answer = mail_client.post(
        f"/api/v1/events/{slug}/messages",
        json={
            "segment": "delegation",
            "delegation": "EU",
            "subject": "Bring <b>cards</b>",
            "body": "Dear EU delegation,\n\nthe bus leaves at 8:00.",
        },
        headers=owner,
    )
    assert answer.status_code == 202, answer.text
    assert answer.json()["recipients"] == 2
    assert answer.json()["sent"] is True
    received = mailbox.wait_for(registration_mails + 2)[registration_mails:]
    assert sorted(m["To"] for m in received) == sorted(
        p["participant"]["email"] for p in people[1:]
    )
    for message in received:
        assert message["Subject"].endswith(": Bring <b>cards</b>")
        text = Mailbox.text(message)
        assert re.search(r"Hello (Bo Nowak|Cleo Rossi),", text)
        assert "the bus leaves at 8:00." in text
        assert "Olivia Organiser" in text
        html = str(message.get_body(("html",)).get_content())
        assert "<b>" not in html.split("<body", 1)[1].replace("<br>", "")
