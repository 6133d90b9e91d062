"""Organisation membership: typing an organisation's name at registration does not hand out its
members' rights. Who may confirm, invite, edit the organisation's profile and answer its
wishes, and who may not (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from matchmaking.platform.models import Event, Organisation, OrganisationKind, Participant
from tests.api.conftest import Factory
from tests.conftest import REPO

EXAMPLE_BUNDLE = Path(__file__).resolve().parent.parent / "bundle" / "example-bundle.json"


def _org_event(make: Factory) -> tuple[dict[str, str], str, dict[str, Any], dict[str, Any]]:
    """An open event, the founder of "Org evt-c 3" and a stranger who typed its name."""
    owner = make.organiser()
    slug = make.open_event(owner)
    founder = make.participant(slug, organisation={"name": "Org evt-c 3", "kind": "company"})
    stranger = make.participant(slug, organisation={"name": "  ORG evt-C   3 "})
    return owner, slug, founder, stranger


def _problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return dict(response.json())


def test_typing_an_existing_organisations_name_joins_it_only_pending(make: Factory) -> None:
    _, _, founder, stranger = _org_event(make)
    assert founder["participant"]["membership_confirmed"] is True
    joined = stranger["participant"]
    assert joined["organisation"]["key"] == founder["participant"]["organisation"]["key"]
    assert joined["membership_confirmed"] is False


def test_a_pending_member_cannot_edit_the_organisations_profile(
    make: Factory, client: TestClient
) -> None:
    _, slug, founder, stranger = _org_event(make)
    me = f"/api/v1/events/{slug}/me"
    refused = client.patch(
        me,
        json={"organisation": {"description": "Taken over", "website": "https://evil.example"}},
        headers=stranger["headers"],
    )
    assert "confirmed" in _problem(refused, 403)["detail"]
    profile = client.get(me, headers=founder["headers"]).json()["organisation"]
    assert profile["description"] == ""
    assert profile["website"] == ""
    # Their own fields stay theirs to change.
    own = client.patch(me, json={"job_title": "Engineer"}, headers=stranger["headers"])
    assert own.status_code == 200, own.text
    allowed = client.patch(
        me, json={"organisation": {"description": "Wind parks"}}, headers=founder["headers"]
    )
    assert allowed.status_code == 200, allowed.text


def test_a_pending_member_cannot_answer_a_wish_to_the_organisation(
    make: Factory, client: TestClient
) -> None:
    _, slug, founder, stranger = _org_event(make)
    other = make.participant(slug)
    wishes = f"/api/v1/events/{slug}/me/wishes"
    organisation = founder["participant"]["organisation"]["key"]
    sent = client.post(wishes, json={"to_organisation": organisation}, headers=other["headers"])
    assert sent.status_code == 201, sent.text
    key = sent.json()["key"]
    for action in ("decline", "accept"):
        refused = client.post(f"{wishes}/{key}/{action}", headers=stranger["headers"])
        assert "confirmed members" in _problem(refused, 403)["detail"]
    assert client.get(f"{wishes}/{key}", headers=other["headers"]).json()["status"] == "requested"
    accepted = client.post(f"{wishes}/{key}/accept", headers=founder["headers"])
    assert accepted.status_code == 200
    assert accepted.json()["status"] == "accepted"


def test_a_confirmed_member_confirms_a_pending_one_who_then_may_act(
    make: Factory, client: TestClient
) -> None:
    _, slug, founder, stranger = _org_event(make)
    members = f"/api/v1/events/{slug}/me/organisation/members"
    key = stranger["participant"]["key"]
    listed = client.get(members, headers=founder["headers"]).json()
    assert [(m["key"], m["membership_confirmed"]) for m in listed] == [
        (key, False),
        (founder["participant"]["key"], True),
    ]
    # The pending member can neither look nor confirm itself or others.
    _problem(client.get(members, headers=stranger["headers"]), 403)
    _problem(client.post(f"{members}/{key}/confirm", headers=stranger["headers"]), 403)
    # Someone of another organisation cannot confirm it (it is not in their organisation).
    outsider = make.participant(slug)
    _problem(client.post(f"{members}/{key}/confirm", headers=outsider["headers"]), 404)

    confirmed = client.post(f"{members}/{key}/confirm", headers=founder["headers"])
    assert confirmed.status_code == 200
    assert confirmed.json()["membership_confirmed"] is True
    _problem(client.post(f"{members}/{key}/confirm", headers=founder["headers"]), 409)
    me = client.get(f"/api/v1/events/{slug}/me", headers=stranger["headers"]).json()
    assert me["membership_confirmed"] is True
    edit = client.patch(
        f"/api/v1/events/{slug}/me",
        json={"organisation": {"website": "https://org.example"}},
        headers=stranger["headers"],
    )
    assert edit.status_code == 200, edit.text


def test_an_organiser_of_the_event_confirms_a_membership(make: Factory, client: TestClient) -> None:
    owner, slug, _, stranger = _org_event(make)
    key = stranger["participant"]["key"]
    path = f"/api/v1/events/{slug}/participants/{key}/confirm-membership"
    # Organisers of other events do not see it; participants are no organisers.
    _problem(client.post(path, headers=make.organiser()), 404)
    _problem(client.post(path, headers=stranger["headers"]), 401)
    confirmed = client.post(path, headers=owner)
    assert confirmed.status_code == 200
    assert confirmed.json()["membership_confirmed"] is True
    _problem(client.post(path, headers=owner), 409)


def test_an_invitation_link_from_a_confirmed_member_joins_confirmed(
    make: Factory, client: TestClient
) -> None:
    _, slug, founder, stranger = _org_event(make)
    invitation = f"/api/v1/events/{slug}/me/organisation/invitation"
    _problem(client.post(invitation, headers=stranger["headers"]), 403)
    first = client.post(invitation, headers=founder["headers"])
    assert first.status_code == 201, first.text
    assert f"/e/{slug}/register?invitation=" in first.json()["link"]
    colleague = make.participant(
        slug, organisation={"name": "whatever"}, invitation=first.json()["token"]
    )
    assert colleague["participant"]["membership_confirmed"] is True
    assert colleague["participant"]["organisation"]["name"] == "Org evt-c 3"
    # A new link replaces the old one.
    second = client.post(invitation, headers=founder["headers"])
    assert second.json()["token"] != first.json()["token"]
    refused = client.post(
        f"/api/v1/events/{slug}/registrations",
        json={
            "name": "Late",
            "email": "late@example.org",
            "organisation": {"name": "x"},
            "invitation": first.json()["token"],
        },
    )
    problem = _problem(refused, 422)
    assert problem["errors"][0]["field"] == "body.invitation"


def test_the_organisers_bundle_import_makes_confirmed_members(
    make: Factory, client: TestClient
) -> None:
    owner = make.organiser()
    bundle = json.loads(EXAMPLE_BUNDLE.read_text())
    imported = client.post("/api/v1/events/import", json=bundle, headers=owner)
    assert imported.status_code == 201, imported.text
    slug = bundle["event"]["slug"]
    people = client.get(
        f"/api/v1/events/{slug}/participants", params={"limit": 200}, headers=owner
    ).json()
    assert people["total"] > 0
    assert all(p["membership_confirmed"] for p in people["items"])


def test_members_present_when_the_migration_runs_are_confirmed(db_url: str) -> None:
    config = Config(str(REPO / "alembic.ini"))
    config.set_main_option("script_location", str(REPO / "migrations"))
    config.set_main_option("sqlalchemy.url", db_url)
    engine = create_engine(db_url)
    try:
        with Session(engine) as session:
            event = Event(slug="m", name="M", timezone="UTC")
            organisation = Organisation(
                event=event, key="o1", name="Org", kind=OrganisationKind.company
            )
            for key in ("p1", "p2"):
                session.add(
                    Participant(
                        event=event,
                        organisation=organisation,
                        key=key,
                        name=key,
                        membership_confirmed=False,
                    )
                )
            session.commit()
        engine.dispose()
        # Back to the schema before memberships were confirmed, then forward again.
        command.downgrade(config, "0001")
        command.upgrade(config, "head")
        with Session(engine) as session:
            people = session.scalars(select(Participant)).all()
            assert len(people) == 2
            assert all(p.membership_confirmed for p in people)
    finally:
        engine.dispose()


def _browser(make: Factory, person: dict[str, Any], slug: str) -> TestClient:
    browser = TestClient(make.app, follow_redirects=False)
    signed_in = browser.get(f"/e/{slug}/login", params={"token": person["access_token"]})
    assert signed_in.status_code == 303
    return browser


def _csrf(browser: TestClient, path: str) -> tuple[str, str]:
    page = browser.get(path)
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found
    return page.text, found.group(1)


def test_a_member_confirms_a_newcomer_with_the_button_on_its_page(make: Factory) -> None:
    _, slug, founder, stranger = _org_event(make)
    key = stranger["participant"]["key"]
    confirm = f"/e/{slug}/me/organisation/members/{key}/confirm"
    pending = _browser(make, stranger, slug)
    page, csrf = _csrf(pending, f"/e/{slug}/me")
    assert "waits for a member of it or an organiser to confirm it" in page
    assert pending.post(confirm, data={"csrf_token": csrf}).status_code == 403

    member = _browser(make, founder, slug)
    page, csrf = _csrf(member, f"/e/{slug}/me")
    assert "People asking to join Org evt-c 3" in page
    assert confirm in page
    assert member.post(confirm, data={"csrf_token": csrf}).status_code == 303
    page, _ = _csrf(pending, f"/e/{slug}/me")
    assert "waits for a member" not in page


def test_an_organiser_confirms_a_newcomer_from_the_dashboard(make: Factory) -> None:
    owner, slug, _, stranger = _org_event(make)
    browser = TestClient(make.app, follow_redirects=False)
    _, csrf = _csrf(browser, "/organiser/login")
    token = owner["Authorization"].removeprefix("Bearer ")
    signed_in = browser.post("/organiser/login", data={"csrf_token": csrf, "token": token})
    assert signed_in.status_code == 303
    page, csrf = _csrf(browser, f"/organiser/e/{slug}")
    key = stranger["participant"]["key"]
    button = f"/organiser/e/{slug}/participants/{key}/confirm-membership"
    assert button in page
    assert browser.post(button, data={"csrf_token": csrf}).status_code == 303
    page, _ = _csrf(browser, f"/organiser/e/{slug}")
    assert button not in page
    me = make.client.get(f"/api/v1/events/{slug}/me", headers=stranger["headers"]).json()
    assert me["membership_confirmed"] is True


def test_the_invitation_link_opens_the_registration_form_with_the_invitation(
    make: Factory, client: TestClient
) -> None:
    _, slug, founder, _ = _org_event(make)
    link = client.post(
        f"/api/v1/events/{slug}/me/organisation/invitation", headers=founder["headers"]
    ).json()["link"]
    page = client.get(link.removeprefix("http://matchmaking.test"))
    assert page.status_code == 200
    assert 'name="invitation"' in page.text
    assert "confirmed member" in page.text


def test_a_confirmed_member_turns_down_a_stranger_whose_registration_goes(
    make: Factory, client: TestClient
) -> None:
    owner, slug, founder, stranger = _org_event(make)
    other = make.participant(slug)
    members = f"/api/v1/events/{slug}/me/organisation/members"
    key = stranger["participant"]["key"]
    # The stranger sent a wish and received one: both go with the registration.
    sent = client.post(
        f"/api/v1/events/{slug}/me/wishes",
        json={"to": other["participant"]["key"]},
        headers=stranger["headers"],
    )
    assert sent.status_code == 201, sent.text
    received = client.post(
        f"/api/v1/events/{slug}/me/wishes", json={"to": key}, headers=other["headers"]
    )
    assert received.status_code == 201, received.text
    # Nobody but a confirmed member of the organisation may turn it down.
    _problem(client.post(f"{members}/{key}/turn-down", headers=stranger["headers"]), 403)
    _problem(client.post(f"{members}/{key}/turn-down", headers=other["headers"]), 404)
    _problem(client.post(f"{members}/{key}/turn-down", headers={}), 401)
    assert client.get(f"/api/v1/events/{slug}/me", headers=stranger["headers"]).status_code == 200

    gone = client.post(f"{members}/{key}/turn-down", headers=founder["headers"])
    assert gone.status_code == 204, gone.text
    # The stranger's personal link no longer works; the wishes went with the registration.
    _problem(client.get(f"/api/v1/events/{slug}/me", headers=stranger["headers"]), 401)
    _problem(client.get(f"/api/v1/events/{slug}/participants/{key}", headers=owner), 404)
    left = client.get(f"/api/v1/events/{slug}/me/wishes", headers=other["headers"]).json()
    assert left["total"] == 0, left
    _problem(client.post(f"{members}/{key}/turn-down", headers=founder["headers"]), 404)
    # A confirmed member cannot be turned down this way.
    founder_key = founder["participant"]["key"]
    confirmed = client.post(
        f"/api/v1/events/{slug}/participants/{founder_key}/turn-down-membership", headers=owner
    )
    assert "confirmed member" in _problem(confirmed, 409)["detail"]


def test_an_organiser_turns_down_a_membership_and_others_may_not(
    make: Factory, client: TestClient
) -> None:
    owner, slug, _, stranger = _org_event(make)
    key = stranger["participant"]["key"]
    path = f"/api/v1/events/{slug}/participants/{key}/turn-down-membership"
    _problem(client.post(path, headers=make.organiser()), 404)
    _problem(client.post(path, headers=stranger["headers"]), 401)
    _problem(client.post(path), 401)
    assert client.post(path, headers=owner).status_code == 204
    _problem(client.post(path, headers=owner), 404)


def test_an_organiser_turns_down_a_newcomer_from_the_dashboard(make: Factory) -> None:
    owner, slug, _, stranger = _org_event(make)
    browser = TestClient(make.app, follow_redirects=False)
    _, csrf = _csrf(browser, "/organiser/login")
    token = owner["Authorization"].removeprefix("Bearer ")
    signed_in = browser.post("/organiser/login", data={"csrf_token": csrf, "token": token})
    assert signed_in.status_code == 303
    page, csrf = _csrf(browser, f"/organiser/e/{slug}")
    key = stranger["participant"]["key"]
    button = f"/organiser/e/{slug}/participants/{key}/turn-down-membership"
    assert button in page
    assert f"Turn down {stranger['participant']['name']}" in page
    assert browser.post(button, data={"csrf_token": "forged"}).status_code == 403
    assert browser.post(button, data={"csrf_token": csrf}).status_code == 303
    page, _ = _csrf(browser, f"/organiser/e/{slug}")
    assert button not in page
    gone = make.client.get(f"/api/v1/events/{slug}/me", headers=stranger["headers"])
    assert gone.status_code == 401


def test_a_member_turns_down_a_newcomer_with_the_button_on_its_page(make: Factory) -> None:
    _, slug, founder, stranger = _org_event(make)
    key = stranger["participant"]["key"]
    turn_down = f"/e/{slug}/me/organisation/members/{key}/turn-down"
    pending = _browser(make, stranger, slug)
    _, csrf = _csrf(pending, f"/e/{slug}/me")
    assert pending.post(turn_down, data={"csrf_token": csrf}).status_code == 403
    member = _browser(make, founder, slug)
    page, csrf = _csrf(member, f"/e/{slug}/me")
    assert turn_down in page
    assert member.post(turn_down, data={"csrf_token": csrf}).status_code == 303
    page, _ = _csrf(member, f"/e/{slug}/me")
    assert "People asking to join" not in page


def test_a_pending_member_does_not_read_the_wishes_to_the_organisation(
    make: Factory, client: TestClient
) -> None:
    # Probe of issue 11: the stranger who typed the name read the organisation's wishes and
    # their messages (list and single wish) while pending.
    owner, slug, founder, stranger = _org_event(make)
    other = make.participant(slug)
    wishes = f"/api/v1/events/{slug}/me/wishes"
    organisation = founder["participant"]["organisation"]["key"]
    sent = client.post(
        wishes,
        json={"to_organisation": organisation, "message": "Our pilot site in Aarhus"},
        headers=other["headers"],
    )
    assert sent.status_code == 201, sent.text
    key = sent.json()["key"]
    received = {"direction": "received"}
    listed = client.get(wishes, params=received, headers=stranger["headers"]).json()
    assert listed["items"] == []
    assert listed["total"] == 0
    assert "Aarhus" not in client.get(wishes, params=received, headers=stranger["headers"]).text
    _problem(client.get(f"{wishes}/{key}", headers=stranger["headers"]), 404)
    # The confirmed member reads it; the stranger once an organiser confirms them.
    mine = client.get(wishes, params=received, headers=founder["headers"]).json()
    assert [w["key"] for w in mine["items"]] == [key]
    confirmed = client.post(
        f"/api/v1/events/{slug}/participants/{stranger['participant']['key']}/confirm-membership",
        headers=owner,
    )
    assert confirmed.status_code == 200, confirmed.text
    assert client.get(f"{wishes}/{key}", headers=stranger["headers"]).status_code == 200
    listed = client.get(wishes, params=received, headers=stranger["headers"]).json()
    assert [w["key"] for w in listed["items"]] == [key]


def test_look_alike_names_join_the_organisation_as_pending_members(make: Factory) -> None:
    owner = make.organiser()
    slug = make.open_event(owner)
    founder = make.participant(slug, organisation={"name": "Énergie Sud-Ouest", "kind": "cluster"})
    key = founder["participant"]["organisation"]["key"]
    for typed in (
        "ÉNERGIE SUD-OUEST",  # case, with accents (SQLite's lower() knows only ASCII)
        "energie sud-ouest",  # accents left out
        "Énergie\u200b Sud-Ouest",  # a zero-width space
        "Énergie Sud\u2011Ouest",  # a non-breaking hyphen
        "\uff25nergie  Sud-Ouest",  # a full-width letter and two spaces
    ):
        joined = make.participant(slug, organisation={"name": typed})["participant"]
        assert joined["organisation"]["key"] == key, typed
        assert joined["membership_confirmed"] is False, typed
    other = make.participant(slug, organisation={"name": "Énergie Nord-Ouest"})["participant"]
    assert other["organisation"]["key"] != key
    assert other["membership_confirmed"] is True
