"""Meeting wishes: sending, caps, cut-off, answers, withdrawal, who may do what."""

from __future__ import annotations

import time
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from matchmaking.platform.models import OutboxMail
from tests.api.conftest import Factory, Mailbox


def wish(client: TestClient, slug: str, sender: dict[str, Any], **body: Any) -> Any:
    return client.post(f"/api/v1/events/{slug}/me/wishes", json=body, headers=sender["headers"])


def key_of(person: dict[str, Any]) -> str:
    return str(person["participant"]["key"])


def test_wish_waits_for_the_recipient_who_accepts_it(client: TestClient, make: Factory) -> None:
    slug = make.open_event(make.organiser())
    ana, ben = make.participant(slug), make.participant(slug)
    sent = wish(client, slug, ana, to=key_of(ben), priority=1, message="Let's talk wind.")
    assert sent.status_code == 201, sent.text
    body = sent.json()
    assert body["status"] == "requested"
    assert body["from"]["key"] == key_of(ana)
    assert body["to"]["key"] == key_of(ben)
    assert body["mutual"] is False

    received = client.get(
        f"/api/v1/events/{slug}/me/wishes",
        params={"direction": "received"},
        headers=ben["headers"],
    ).json()
    assert [w["key"] for w in received["items"]] == [body["key"]]
    accepted = client.post(
        f"/api/v1/events/{slug}/me/wishes/{body['key']}/accept", headers=ben["headers"]
    )
    assert accepted.status_code == 200
    assert accepted.json()["status"] == "accepted"
    back = wish(client, slug, ben, to=key_of(ana))
    assert back.json()["mutual"] is True


def test_auto_accept_policy_accepts_wishes_when_sent(client: TestClient, make: Factory) -> None:
    slug = make.open_event(make.organiser(), wish_policy="auto_accept")
    ana, ben = make.participant(slug), make.participant(slug)
    sent = wish(client, slug, ana, to=key_of(ben))
    assert sent.json()["status"] == "accepted"
    assert sent.json()["answered_at"] is not None


def test_wish_to_an_organisation_is_answered_by_any_of_its_confirmed_people(
    client: TestClient, make: Factory
) -> None:
    slug = make.open_event(make.organiser())
    ana = make.participant(slug)
    ben = make.participant(slug, organisation={"name": "Wind Co", "kind": "company"})
    cleo = make.participant(slug, organisation={"name": "Wind Co"})
    organisation = ben["participant"]["organisation"]["key"]
    confirmed = client.post(
        f"/api/v1/events/{slug}/me/organisation/members/{key_of(cleo)}/confirm",
        headers=ben["headers"],
    )
    assert confirmed.status_code == 200, confirmed.text
    sent = wish(client, slug, ana, to_organisation=organisation)
    assert sent.status_code == 201
    assert sent.json()["to_organisation"]["name"] == "Wind Co"
    declined = client.post(
        f"/api/v1/events/{slug}/me/wishes/{sent.json()['key']}/decline", headers=cleo["headers"]
    )
    assert declined.status_code == 200
    assert declined.json()["status"] == "declined"
    own = wish(client, slug, ben, to_organisation=organisation)
    assert own.status_code == 422
    assert own.json()["errors"][0]["field"] == "body.to_organisation"


def test_wishes_that_make_no_sense_are_refused_naming_the_field(
    client: TestClient, make: Factory
) -> None:
    slug = make.open_event(make.organiser())
    ana = make.participant(slug, organisation={"name": "Same Org"})
    colleague = make.participant(slug, organisation={"name": "Same Org"})
    hidden = make.participant(slug, listed=False)
    cases = [
        ({"to": key_of(ana)}, "body.to", "yourself"),
        ({"to": key_of(colleague)}, "body.to", "own organisation"),
        ({"to": key_of(hidden)}, "body.to", "no participant"),
        ({"to": "p-nobody"}, "body.to", "no participant"),
        ({}, "body.to", "exactly one"),
        ({"to": key_of(hidden), "to_organisation": "o1"}, "body.to", "exactly one"),
        ({"to": key_of(colleague), "priority": 4}, "body.priority", ""),
    ]
    for body, field, words in cases:
        answer = wish(client, slug, ana, **body)
        assert answer.status_code == 422, (body, answer.text)
        problem = answer.json()
        assert problem["errors"][0]["field"] == field, problem
        assert words in problem["detail"], problem


def test_second_open_wish_to_the_same_person_is_a_conflict(
    client: TestClient, make: Factory
) -> None:
    slug = make.open_event(make.organiser())
    ana, ben = make.participant(slug), make.participant(slug)
    first = wish(client, slug, ana, to=key_of(ben)).json()
    assert wish(client, slug, ana, to=key_of(ben)).status_code == 409
    client.post(f"/api/v1/events/{slug}/me/wishes/{first['key']}/withdraw", headers=ana["headers"])
    assert wish(client, slug, ana, to=key_of(ben)).status_code == 201


def test_request_cap_counts_open_wishes_only(client: TestClient, make: Factory) -> None:
    slug = make.open_event(make.organiser(), max_requests_per_participant=2)
    ana = make.participant(slug)
    others = [make.participant(slug) for _ in range(3)]
    first = wish(client, slug, ana, to=key_of(others[0])).json()
    wish(client, slug, ana, to=key_of(others[1]))
    over = wish(client, slug, ana, to=key_of(others[2]))
    assert over.status_code == 409
    assert "most this event allows (2)" in over.json()["detail"]
    client.post(f"/api/v1/events/{slug}/me/wishes/{first['key']}/withdraw", headers=ana["headers"])
    assert wish(client, slug, ana, to=key_of(others[2])).status_code == 201


def test_after_the_cut_off_wishes_cannot_be_sent_withdrawn_or_answered(
    client: TestClient, make: Factory
) -> None:
    owner = make.organiser()
    slug = make.open_event(owner)
    ana, ben = make.participant(slug), make.participant(slug)
    sent = wish(client, slug, ana, to=key_of(ben)).json()
    client.patch(
        f"/api/v1/events/{slug}", json={"wish_cutoff": "2020-01-01T00:00:00Z"}, headers=owner
    )
    assert wish(client, slug, ben, to=key_of(ana)).status_code == 409
    base = f"/api/v1/events/{slug}/me/wishes/{sent['key']}"
    assert client.post(f"{base}/withdraw", headers=ana["headers"]).status_code == 409
    late = client.post(f"{base}/accept", headers=ben["headers"])
    assert late.status_code == 409
    assert "cut-off" in late.json()["detail"]


def test_only_the_sender_withdraws_and_only_the_recipient_answers(
    client: TestClient, make: Factory
) -> None:
    slug = make.open_event(make.organiser())
    ana, ben, cleo = make.participant(slug), make.participant(slug), make.participant(slug)
    sent = wish(client, slug, ana, to=key_of(ben)).json()
    base = f"/api/v1/events/{slug}/me/wishes/{sent['key']}"
    withdrawn = client.post(f"{base}/withdraw", headers=ben["headers"])
    assert withdrawn.status_code == 403
    assert withdrawn.json()["detail"] == "Only the sender of a wish can withdraw it."
    assert client.post(f"{base}/accept", headers=ana["headers"]).status_code == 403
    changed = client.patch(base, json={"priority": 1}, headers=ben["headers"])
    assert changed.status_code == 403
    assert changed.json()["detail"] == "Only the sender of a wish can change it."
    for action in ("accept", "withdraw"):
        assert client.post(f"{base}/{action}", headers=cleo["headers"]).status_code == 404
    assert client.get(base, headers=cleo["headers"]).status_code == 404
    edited = client.patch(base, json={"priority": 3}, headers=ana["headers"])
    assert edited.json()["priority"] == 3
    client.post(f"{base}/withdraw", headers=ana["headers"])
    assert client.post(f"{base}/accept", headers=ben["headers"]).status_code == 409


def test_wish_endpoints_refuse_outsiders(client: TestClient, make: Factory) -> None:
    owner = make.organiser()
    slug = make.open_event(owner)
    ana, ben = make.participant(slug), make.participant(slug)
    sent = wish(client, slug, ana, to=key_of(ben)).json()
    stranger = make.participant(make.open_event(make.organiser()))
    base = f"/api/v1/events/{slug}/me/wishes"
    endpoints = [
        ("GET", base),
        ("POST", base),
        ("GET", f"{base}/{sent['key']}"),
        ("PATCH", f"{base}/{sent['key']}"),
        ("POST", f"{base}/{sent['key']}/withdraw"),
        ("POST", f"{base}/{sent['key']}/accept"),
        ("POST", f"{base}/{sent['key']}/decline"),
    ]
    for method, url in endpoints:
        body = {} if method != "GET" else None
        assert client.request(method, url, json=body).status_code == 401
        assert client.request(method, url, json=body, headers=owner).status_code == 401
        assert (
            client.request(method, url, json=body, headers=stranger["headers"]).status_code == 404
        )


def test_organisers_see_every_wish_and_set_scheduling_rules(
    client: TestClient, make: Factory
) -> None:
    owner = make.organiser()
    slug = make.open_event(owner)
    ana, ben, cleo = make.participant(slug), make.participant(slug), make.participant(slug)
    first = wish(client, slug, ana, to=key_of(ben)).json()
    wish(client, slug, cleo, to=key_of(ben))
    everything = client.get(f"/api/v1/events/{slug}/wishes", headers=owner).json()
    assert everything["total"] == 2
    of_ana = client.get(
        f"/api/v1/events/{slug}/wishes", params={"participant": key_of(ana)}, headers=owner
    ).json()
    assert [w["key"] for w in of_ana["items"]] == [first["key"]]
    updated = client.patch(
        f"/api/v1/events/{slug}/wishes/{first['key']}",
        json={"status": "accepted", "required": True, "session": "am", "fixed_slot": "s2"},
        headers=owner,
    )
    assert updated.status_code == 200, updated.text
    assert updated.json()["required"] is True
    assert updated.json()["fixed_slot"] == "s2"
    accepted = client.get(
        f"/api/v1/events/{slug}/wishes", params={"status": "accepted"}, headers=owner
    ).json()
    assert accepted["total"] == 1
    unknown_slot = client.patch(
        f"/api/v1/events/{slug}/wishes/{first['key']}", json={"fixed_slot": "s99"}, headers=owner
    )
    assert unknown_slot.status_code == 422
    assert unknown_slot.json()["errors"][0]["field"] == "body.fixed_slot"


def test_a_wish_queues_its_mail_once_and_a_refused_one_none(
    mail_client: TestClient, smtp_server: tuple[Mailbox, int]
) -> None:
    # On PostgreSQL the mail is written by the wish's own insert (a data-modifying CTE): it
    # must exist exactly when the wish does. Its content is read from the mail as delivered:
    # the outbox row's context is emptied once the mail is handled, at any moment.
    client, (mailbox, _) = mail_client, smtp_server
    app: FastAPI = client.app  # type: ignore[assignment]
    make = Factory(app, client)
    slug = make.open_event(make.organiser(), max_requests_per_participant=1)
    ana, ben, cleo = make.participant(slug), make.participant(slug), make.participant(slug)

    def mails() -> list[str]:
        with app.state.sessionmaker() as session:
            return list(
                session.scalars(
                    select(OutboxMail.recipient)
                    .where(OutboxMail.template == "wish_received")
                    .order_by(OutboxMail.id)
                )
            )

    sent = wish(client, slug, ana, to=key_of(ben), message="  Wind?  ")
    assert sent.status_code == 201, sent.text
    assert wish(client, slug, ana, to=key_of(ben)).status_code == 409  # the duplicate
    assert wish(client, slug, ana, to=key_of(cleo)).status_code == 409  # the cap
    assert mails() == [ben["participant"]["email"]]
    subject = f"{ana['participant']['name']} ("

    def received() -> list[Any]:
        return [m for m in mailbox.messages if str(m["Subject"]).startswith(subject)]

    deadline = time.monotonic() + 10
    while not received() and time.monotonic() < deadline:
        time.sleep(0.02)
    [message] = received()
    assert message["To"] == ben["participant"]["email"]
    text = Mailbox.text(message).replace("\r\n", "\n")
    assert "Their message:\nWind?\n" in text  # trimmed
    assert f"Hello {ben['participant']['name']}," in text
    assert "Please accept or decline the wish" in text  # not accepted on sending
