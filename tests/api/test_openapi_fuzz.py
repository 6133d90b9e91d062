"""Property-based check that the OpenAPI document is true (schemathesis).

Generated requests go to every operation of the organiser, event, participant, wish and
event-day routers (tags), authenticated as an owner (or a participant for `/me`), against one
SQLite event.
Every answer must be documented (status, media type, schema) and never a server error.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import ignored_auth, missing_required_header, positive_data_acceptance

from api.app import create_app
from tests.api.conftest import Factory, make_settings

SLUG = "fuzzed-event"


@pytest.fixture
def fuzzed_app(tmp_path: Path, sqlite_template: Path) -> Iterator[dict[str, Any]]:
    path = tmp_path / "fuzz.db"
    path.write_bytes(sqlite_template.read_bytes())
    # Generous guess limit: invalid bodies must not turn into 429s for the valid tokens.
    app = create_app(make_settings(f"sqlite:///{path}", guess_limit_failures=1_000_000))
    with TestClient(app) as client:
        make = Factory(app, client)
        owner = make.organiser()
        make.open_event(owner, SLUG)
        participant = make.participant(SLUG)
        make.participant(SLUG)
        yield {"app": app, "owner": owner, "participant": participant["headers"]}
    app.state.engine.dispose()


@pytest.mark.slow
def test_answers_match_the_openapi_document(fuzzed_app: dict[str, Any]) -> None:
    app: FastAPI = fuzzed_app["app"]
    schema = (
        schemathesis.openapi.from_asgi("/api/v1/openapi.json", app)
        .include(tag=["organisers", "events", "participants", "wishes", "event day"])
        # Revoking the caller's own token or deleting the event would end the run early.
        .exclude(method="DELETE", path_regex=r"^/api/v1/(organisers/me/tokens/|events/\{slug\}$)")
    )
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40
    for operation in operations:
        check_operation(operation, fuzzed_app)


def check_operation(operation: Any, fuzzed_app: dict[str, Any]) -> None:
    @settings(max_examples=6, suppress_health_check=list(HealthCheck), deadline=None)
    @given(case=operation.as_strategy())
    def check(case: Any) -> None:
        if "slug" in (case.path_parameters or {}):
            case.path_parameters["slug"] = SLUG  # a real event, so checks go past the 404
        participant_route = "/me" in case.path and not case.path.startswith("/api/v1/organisers")
        auth = fuzzed_app["participant"] if participant_route else fuzzed_app["owner"]
        generated = {
            name: value
            for name, value in (case.headers or {}).items()
            if name.lower() not in {"authorization", "x-participant-token"}
        }
        case.headers = {**generated, **auth}
        # The credentials are set on purpose, so schemathesis's own auth probes do not apply;
        # access rules are tested case by case in the other API tests.
        case.call_and_validate(
            excluded_checks=[ignored_auth, missing_required_header, positive_data_acceptance]
        )

    check()
