"""Proposals through the API: the organisers' preview and sending, both sides' answers, the
e-mails, free slots before and after a solve, the rules a proposal keeps, and who may not.
Runs on both databases."""

from __future__ import annotations

from typing import Any

import jsonschema
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from matchmaking.bundle.json_schema import bundle_json_schema
from matchmaking.bundle.validate import parse_bundle
from matchmaking.platform.models import OutboxMail, Wish
from tests.api.conftest import Factory
from tests.api.solving import World, solve


def _person(make: Factory, slug: str, name: str, **organisation: Any) -> dict[str, Any]:
    return make.participant(
        slug,
        name=name,
        organisation={"name": f"{name} Ltd", "kind": "company", "country": "DE", **organisation},
    )


def _event(make: Factory, **fields: Any) -> tuple[dict[str, str], str, dict[str, Any]]:
    owner = make.organiser()
    slug = make.open_event(owner, **fields)
    people = {
        "ann": _person(
            make,
            slug,
            "Ann",
            delegation="EU",
            seeks=["partners for battery recycling"],
            offers=["smart grid software"],
        ),
        "bea": _person(
            make, slug, "Bea", delegation="Canada", offers=["battery recycling services"]
        ),
        "cid": _person(
            make,
            slug,
            "Cid",
            delegation="EU",
            offers=["recycling of used batteries"],
            seeks=["battery recycling"],
        ),
        "dan": _person(make, slug, "Dan", delegation="Canada", seeks=["smart grids"]),
    }
    return owner, slug, people


def _key(person: dict[str, Any]) -> str:
    return str(person["participant"]["key"])


def _pairs(answer: dict[str, Any]) -> set[frozenset[str]]:
    return {frozenset((p["name"], p["partner_name"])) for p in answer["proposals"]}


def _propose(
    client: TestClient, slug: str, headers: dict[str, str], dry_run: bool, **body: Any
) -> Any:
    return client.post(
        f"/api/v1/events/{slug}/proposals",
        params={"dry_run": str(dry_run).lower()},
        json=body,
        headers=headers,
    )


def _received(client: TestClient, slug: str, person: dict[str, Any]) -> list[dict[str, Any]]:
    answer = client.get(
        f"/api/v1/events/{slug}/me/wishes",
        params={"direction": "received"},
        headers=person["headers"],
    )
    assert answer.status_code == 200, answer.text
    return list(answer.json()["items"])


def test_preview_names_the_proposals_and_their_reasons_and_stores_nothing(
    client: TestClient, make: Factory
) -> None:
    owner, slug, people = _event(make)
    sent = client.post(
        f"/api/v1/events/{slug}/me/wishes",
        json={"to": _key(people["ann"])},
        headers=people["bea"]["headers"],
    )
    assert sent.status_code == 201, sent.text

    answer = _propose(client, slug, owner, True, per_participant=1)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["sent"] is False
    assert body["mails"] == 0
    assert body["version"] is None
    assert body["count"] == len(body["proposals"]) >= 1
    # Bea wished Ann: that pair is never proposed; each person at most once.
    assert frozenset(("Ann", "Bea")) not in _pairs(body)
    names = [n for p in body["proposals"] for n in (p["name"], p["partner_name"])]
    assert len(names) == len(set(names))
    # Ann seeks partners for battery recycling, but Bea wished her and Cid is of her
    # delegation; Dan seeks the smart grids she offers. The reasons are each side's own.
    assert body["proposals"] == [
        {
            "participant": _key(people["ann"]),
            "name": "Ann",
            "organisation": "Ann Ltd",
            "partner": _key(people["dan"]),
            "partner_name": "Dan",
            "partner_organisation": "Dan Ltd",
            "score": body["proposals"][0]["score"],
            "reasons": ["seeks smart grids, which you offer (smart grid software)"],
            "partner_reasons": ["offers smart grid software, which you seek (smart grids)"],
            "wish": None,
        },
        {
            "participant": _key(people["bea"]),
            "name": "Bea",
            "organisation": "Bea Ltd",
            "partner": _key(people["cid"]),
            "partner_name": "Cid",
            "partner_organisation": "Cid Ltd",
            "score": body["proposals"][1]["score"],
            "reasons": ["seeks battery recycling, which you offer (battery recycling services)"],
            "partner_reasons": [
                "offers battery recycling services, which you seek (battery recycling)"
            ],
            "wish": None,
        },
    ]
    assert body["with_free_slots"] == 4
    assert body["participants"] == 4
    assert all(p["wish"] is None for p in body["proposals"])
    # Nothing stored: a second preview is the same, and nobody has a proposal.
    assert _propose(client, slug, owner, True, per_participant=1).json() == body
    assert all(not w["proposed"] for w in _received(client, slug, people["cid"]))


def test_sending_reaches_both_inboxes_and_mails_and_both_must_accept(
    client: TestClient, make: Factory
) -> None:
    owner, slug, people = _event(make)
    answer = _propose(client, slug, owner, False, per_participant=1)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["sent"] is True
    assert body["count"] >= 1
    assert body["mails"] == 2 * body["count"]
    first = body["proposals"][0]
    by_name = {p["participant"]["name"]: p for p in people.values()}
    sender, partner = by_name[first["name"]], by_name[first["partner_name"]]
    # Both sides find it among what they received, with the reasons in their own words.
    for side, reasons in ((sender, first["reasons"]), (partner, first["partner_reasons"])):
        wish = next(w for w in _received(client, slug, side) if w["key"] == first["wish"])
        assert wish["proposed"] is True
        assert wish["status"] == "requested"
        assert wish["reasons"]["sender" if side is sender else "recipient"] == reasons
    # It is not among the sender's own wishes.
    mine = client.get(f"/api/v1/events/{slug}/me/wishes", headers=sender["headers"]).json()
    assert first["wish"] not in {w["key"] for w in mine["items"]}
    with make.app.state.sessionmaker() as db:
        mails = db.scalars(
            select(OutboxMail).where(OutboxMail.template == "proposal_received")
        ).all()
        assert {m.recipient for m in mails} >= {
            sender["participant"]["email"],
            partner["participant"]["email"],
        }

    url = f"/api/v1/events/{slug}/me/wishes/{first['wish']}"
    one = client.post(url + "/accept", headers=partner["headers"])
    assert one.status_code == 200, one.text
    assert one.json()["status"] == "requested"
    assert one.json()["accepted_by"] == [_key(partner)]
    # The sender did not send it: it cannot be withdrawn or changed, only answered.
    withdrawn = client.post(url + "/withdraw", headers=sender["headers"])
    assert withdrawn.status_code == 403
    assert withdrawn.json()["detail"] == (
        "The organisers proposed this meeting; decline it instead."
    )
    changed = client.patch(url, json={"priority": 1}, headers=sender["headers"])
    assert changed.status_code == 403
    assert changed.json()["detail"] == (
        "The organisers proposed this meeting; accept or decline it instead."
    )
    both = client.post(url + "/accept", headers=sender["headers"])
    assert both.status_code == 200, both.text
    assert both.json()["status"] == "accepted"
    # A second round never proposes that pair again.
    again = _propose(client, slug, owner, True, per_participant=3).json()
    assert frozenset((first["name"], first["partner_name"])) not in _pairs(again)


def test_one_side_declining_closes_the_proposal(client: TestClient, make: Factory) -> None:
    owner, slug, people = _event(make)
    body = _propose(client, slug, owner, False, per_participant=1).json()
    first = body["proposals"][0]
    by_name = {p["participant"]["name"]: p for p in people.values()}
    sender, partner = by_name[first["name"]], by_name[first["partner_name"]]
    url = f"/api/v1/events/{slug}/me/wishes/{first['wish']}"

    declined = client.post(url + "/decline", headers=sender["headers"])
    assert declined.status_code == 200, declined.text
    assert declined.json()["status"] == "declined"
    late = client.post(url + "/accept", headers=partner["headers"])
    assert late.status_code == 409
    assert "declined" in late.json()["detail"]
    stranger = by_name[
        ({"Ann", "Bea", "Cid", "Dan"} - {first["name"], first["partner_name"]}).pop()
    ]
    assert client.post(url + "/accept", headers=stranger["headers"]).status_code == 404


def test_delegations_caps_and_the_request_cap(client: TestClient, make: Factory) -> None:
    owner, slug, people = _event(make, max_requests_per_participant=1)
    ruled = client.put(
        f"/api/v1/events/{slug}/rules",
        json={"cross_delegation_only": True, "max_meetings_per_participant": 1},
        headers=owner,
    )
    assert ruled.status_code == 200, ruled.text
    # Dan already has as many accepted wishes as his cap allows.
    sent = client.post(
        f"/api/v1/events/{slug}/me/wishes",
        json={"to": _key(people["ann"])},
        headers=people["dan"]["headers"],
    )
    assert sent.status_code == 201, sent.text
    accepted = client.post(
        f"/api/v1/events/{slug}/me/wishes/{sent.json()['key']}/accept",
        headers=people["ann"]["headers"],
    )
    assert accepted.status_code == 200, accepted.text

    body = _propose(client, slug, owner, False, per_participant=3).json()

    delegation = {"Ann": "EU", "Cid": "EU", "Bea": "Canada", "Dan": "Canada"}
    for p in body["proposals"]:
        assert delegation[p["name"]] != delegation[p["partner_name"]]
        assert not {"Ann", "Dan"} & {p["name"], p["partner_name"]}
    assert _pairs(body) == {frozenset(("Bea", "Cid"))}
    # A proposal does not count against the request cap (1): whichever of Bea and Cid is
    # its sender, both may still send a wish of their own.
    for sender, recipient in (("bea", "ann"), ("cid", "dan")):
        wish = client.post(
            f"/api/v1/events/{slug}/me/wishes",
            json={"to": _key(people[recipient])},
            headers=people[sender]["headers"],
        )
        assert wish.status_code == 201, wish.text


def test_after_a_solve_free_slots_come_from_the_schedule(client: TestClient, make: Factory) -> None:
    owner, slug, people = _event(make, wish_policy="auto_accept")
    # Ann's cap is one meeting; she wished Dan, so the schedule fills her agenda.
    ruled = client.put(
        f"/api/v1/events/{slug}/rules", json={"max_meetings_per_participant": 1}, headers=owner
    )
    assert ruled.status_code == 200, ruled.text
    sent = client.post(
        f"/api/v1/events/{slug}/me/wishes",
        json={"to": _key(people["dan"])},
        headers=people["ann"]["headers"],
    )
    assert sent.status_code == 201, sent.text
    job = solve(client, World(owner, slug, list(people.values())))
    assert job["status"] == "succeeded", job

    body = _propose(client, slug, owner, True, per_participant=2).json()

    assert body["version"] == job["version"]["number"]
    assert "version" in body["basis"]
    everyone = {n for p in body["proposals"] for n in (p["name"], p["partner_name"])}
    assert "Ann" not in everyone
    assert "Dan" not in everyone
    assert _pairs(body) == {frozenset(("Bea", "Cid"))}


def test_bad_input_and_closed_windows(client: TestClient, make: Factory) -> None:
    owner = make.organiser()
    draft = make.event(owner)
    refused = _propose(client, draft, owner, False)
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    _, slug, _ = _event(make)
    for value in (0, 21, "many"):
        bad = _propose(client, slug, make.organiser(), True, per_participant=value)
        assert bad.status_code == 404  # a stranger: the event is not revealed
    owner2, slug2, _ = _event(make)
    for value in (0, 21, "many"):
        bad = _propose(client, slug2, owner2, True, per_participant=value)
        assert bad.status_code == 422, bad.text
        assert bad.json()["errors"][0]["field"] == "body.per_participant"
    with make.app.state.sessionmaker() as db:
        assert db.scalar(select(func.count()).select_from(Wish).where(Wish.proposed)) == 0


def test_who_may_not_propose(client: TestClient, make: Factory) -> None:
    _owner, slug, people = _event(make)
    url = f"/api/v1/events/{slug}/proposals"
    stranger = make.organiser()
    assert client.post(url, params={"dry_run": "true"}).status_code == 401
    assert (
        client.post(url, params={"dry_run": "true"}, headers=people["ann"]["headers"]).status_code
        == 401
    )
    assert client.post(url, params={"dry_run": "true"}, headers=stranger).status_code == 404
    assert client.post(url, headers=stranger).status_code == 404
    with make.app.state.sessionmaker() as db:
        assert db.scalar(select(func.count()).select_from(Wish).where(Wish.proposed)) == 0


def test_the_proposal_mail_speaks_in_names_and_escapes(db_url: str) -> None:
    from matchmaking.platform.mail import Mail, render
    from tests.api.conftest import make_settings

    mail = Mail(
        to="ann@example.org",
        template="proposal_received",
        context={
            "event_name": "Battery Days",
            "recipient_name": "Ann",
            "other_name": "Dan <b>",
            "other_organisation": "Dan Ltd",
            "other_country": "CA",
            "reasons": ["offers smart grid software, which you seek (smart grids)"],
            "page_url": "http://matchmaking.test/e/battery/inbox",
        },
    )
    message = render(mail, make_settings(db_url))
    assert message["Subject"] == (
        "The organisers of Battery Days propose you meet Dan <b> (Dan Ltd)"
    )
    text = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    html = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "The organisers of Battery Days propose you meet Dan <b> of Dan Ltd (CA)" in text
    assert "- offers smart grid software, which you seek (smart grids)" in text
    assert "http://matchmaking.test/e/battery/inbox" in text
    assert "Dan &lt;b&gt;" in html
    assert "Dan <b>" not in html


def test_an_accepted_proposal_reaches_the_solver_as_a_proposal(
    client: TestClient, make: Factory
) -> None:
    from matchmaking.organising.events import find_event
    from matchmaking.planning.snapshot import problem_from_event

    owner, slug, people = _event(make)
    body = _propose(client, slug, owner, False, per_participant=2).json()
    by_name = {p["participant"]["name"]: p for p in people.values()}
    assert body["count"] >= 2
    first, second = body["proposals"][0], body["proposals"][1]
    for name in (first["name"], first["partner_name"]):
        answer = client.post(
            f"/api/v1/events/{slug}/me/wishes/{first['wish']}/accept",
            headers=by_name[name]["headers"],
        )
        assert answer.status_code == 200, answer.text
    with make.app.state.sessionmaker() as db:
        event = find_event(db, slug)
        assert event is not None
        wishes = problem_from_event(db, event).problem.wishes
    # Only the accepted one; a proposal only one side (or no side) accepted is not planned.
    assert [(w.id, w.proposed) for w in wishes] == [(first["wish"], True)]
    assert second["wish"] not in {w.id for w in wishes}


def test_a_bundle_holds_accepted_proposals_as_wishes_and_leaves_the_others_out(
    client: TestClient, make: Factory
) -> None:
    """The bundle format has no field for a proposal: one both sides accepted is a meeting both
    asked for, so it is exported as an accepted wish (priority 3, the lowest the format has);
    one still waiting or declined was asked for by nobody, so it is not in the bundle. The
    document is valid, and importing it elsewhere and exporting again gives it back."""
    owner, slug, people = _event(make)
    own = client.post(
        f"/api/v1/events/{slug}/me/wishes",
        json={"to": _key(people["dan"])},
        headers=people["cid"]["headers"],
    )
    assert own.status_code == 201, own.text
    body = _propose(client, slug, owner, False, per_participant=2).json()
    assert body["count"] >= 3, body
    by_name = {p["participant"]["name"]: p for p in people.values()}
    accepted, waiting, declined = body["proposals"][:3]
    for name in (accepted["name"], accepted["partner_name"]):
        answer = client.post(
            f"/api/v1/events/{slug}/me/wishes/{accepted['wish']}/accept",
            headers=by_name[name]["headers"],
        )
        assert answer.status_code == 200, answer.text
    one = client.post(
        f"/api/v1/events/{slug}/me/wishes/{waiting['wish']}/accept",
        headers=by_name[waiting["partner_name"]]["headers"],
    )
    assert one.json()["status"] == "requested"
    no = client.post(
        f"/api/v1/events/{slug}/me/wishes/{declined['wish']}/decline",
        headers=by_name[declined["name"]]["headers"],
    )
    assert no.json()["status"] == "declined"

    exported = client.get(f"/api/v1/events/{slug}/bundle", headers=owner)
    assert exported.status_code == 200, exported.text
    document = exported.json()
    jsonschema.validate(document, bundle_json_schema())
    parse_bundle(document)
    wishes = {w["id"]: w for w in document["wishes"]}
    assert waiting["wish"] not in wishes
    assert declined["wish"] not in wishes
    assert wishes[accepted["wish"]] == {
        "id": accepted["wish"],
        "from": accepted["participant"],
        "to": accepted["partner"],
        "priority": 3,
        "status": "accepted",
        "required": False,
        "after": [],
        "separate": False,
    }
    assert wishes[own.json()["key"]]["from"] == _key(people["cid"])

    # Into another event of another organiser and out again: the same document.
    document["event"]["slug"] = "copy-of-it"
    other = make.organiser()
    again = client.post("/api/v1/events/import", json=document, headers=other)
    assert again.status_code == 201, again.text
    copy = client.get("/api/v1/events/copy-of-it/bundle", headers=other)
    assert copy.json() == document
