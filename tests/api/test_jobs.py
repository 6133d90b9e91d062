"""Solve jobs over HTTP: 202 with the job's URL, progress, version link, cancellation, errors
naming the field, and who may not start or see a solve."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.testclient import TestClient

from matchmaking.organising import events as event_service
from matchmaking.planning import jobs as job_service
from matchmaking.platform.models import SolveJob
from tests.api.conftest import Factory
from tests.api.solving import World, small_event, solve, wait_for_job


def _queued_job(app: FastAPI, world: World) -> str:
    """A queued job that no runner was told about (as if its message were still in a broker)."""
    with app.state.sessionmaker() as session:
        event = event_service.find_event(session, world.slug)
        assert event is not None
        job = job_service.create_solve_job(session, event, time_limit_seconds=5)
        session.commit()
        return job.id


def test_a_solve_answers_202_and_its_job_ends_with_a_version_and_progress(
    make: Factory, client: TestClient
) -> None:
    world = small_event(make, client)

    response = client.post(
        world.url("/solves"), json={"time_limit_seconds": 10, "workers": 1}, headers=world.owner
    )

    assert response.status_code == 202
    assert response.headers["Location"] == response.json()["url"]
    assert response.json()["status"] in {"queued", "running", "succeeded"}
    job = wait_for_job(client, response.headers["Location"], world.owner)
    assert job["status"] == "succeeded"
    assert job["attempts"] == 1
    assert job["version"] == {"number": 1, "url": world.url("/versions/1")}
    assert job["parameters"]["replan"] is False
    assert job["progress"]["history"], "progress of the search is visible on the job"
    assert client.get(f"/api/v1/jobs/{job['id']}", headers=world.owner).json()["id"] == job["id"]
    listed = client.get(world.url("/solves"), headers=world.owner).json()
    assert listed["total"] == 1
    assert listed["items"][0]["id"] == job["id"]


def test_solve_parameters_are_checked_and_the_field_at_fault_named(
    make: Factory, client: TestClient
) -> None:
    world = small_event(make, client)
    cases = [
        ({"time_limit_seconds": 0}, "body.time_limit_seconds"),
        ({"workers": 100}, "body.workers"),
        ({"objective": ["required", "speed"]}, "body.objective"),
        ({"replan": True}, "body.replan"),
        ({"colour": "blue"}, "body.colour"),
        ({"deterministic": "yes"}, "body.deterministic"),
        ({"replan": "yes"}, "body.replan"),
        ({"replan": 1}, "body.replan"),
    ]
    for body, field in cases:
        response = client.post(world.url("/solves"), json=body, headers=world.owner)
        assert response.status_code == 422, body
        assert response.headers["content-type"].startswith("application/problem+json")
        assert field in [e["field"] for e in response.json()["errors"]], response.json()


def test_a_second_solve_of_the_event_while_one_is_queued_is_refused(
    app: FastAPI, make: Factory, client: TestClient
) -> None:
    world = small_event(make, client)
    queued = _queued_job(app, world)

    response = client.post(world.url("/solves"), json={}, headers=world.owner)

    assert response.status_code == 409
    assert queued in response.json()["detail"]


def test_cancelling_a_queued_job_ends_it_and_a_second_cancel_is_a_conflict(
    app: FastAPI, make: Factory, client: TestClient
) -> None:
    world = small_event(make, client)
    job_id = _queued_job(app, world)

    response = client.post(world.url(f"/solves/{job_id}/cancel"), headers=world.owner)
    assert response.status_code == 202
    assert response.json()["status"] == "cancelled"

    again = client.post(f"/api/v1/jobs/{job_id}/cancel", headers=world.owner)
    assert again.status_code == 409
    assert "already cancelled" in again.json()["detail"]


def test_staff_may_solve_and_see_jobs(make: Factory, client: TestClient) -> None:
    world = small_event(make, client)
    staff = make.organiser(email="staff@example.org")
    grant = {"email": "staff@example.org", "role": "staff"}
    make.ok(client.put(world.url("/roles"), json=grant, headers=world.owner), 200)

    job = solve(client, World(staff, world.slug, world.people))

    assert job["status"] == "succeeded"


def test_who_may_not_start_or_see_a_solve(app: FastAPI, make: Factory, client: TestClient) -> None:
    world = small_event(make, client)
    job_id = _queued_job(app, world)
    stranger = make.organiser()
    make.event(stranger)
    participant = world.people[0]["headers"]
    other_event = make.open_event(make.organiser())
    outsider = make.participant(other_event)["headers"]

    for path, method in [
        (world.url("/solves"), "post"),
        (world.url("/solves"), "get"),
        (world.url(f"/solves/{job_id}"), "get"),
        (world.url(f"/solves/{job_id}/cancel"), "post"),
        (f"/api/v1/jobs/{job_id}", "get"),
        (f"/api/v1/jobs/{job_id}/cancel", "post"),
    ]:
        call = getattr(client, method)
        assert call(path).status_code == 401, path
        assert call(path, headers=participant).status_code == 401, path
        assert call(path, headers=outsider).status_code == 401, path
        assert call(path, headers=stranger).status_code == 404, path
    with app.state.sessionmaker() as session:
        assert session.get_one(SolveJob, job_id).status.value == "queued"


def test_an_unknown_job_is_404_as_a_problem(make: Factory, client: TestClient) -> None:
    world = small_event(make, client)

    response = client.get("/api/v1/jobs/no-such-job", headers=world.owner)

    assert response.status_code == 404
    assert response.json()["detail"] == "There is no solve job 'no-such-job'."
