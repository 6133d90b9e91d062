"""Schema-driven fuzzing: every operation of the OpenAPI document, as every role.

For each operation the test builds a fresh world (two events, every kind of caller), then lets
schemathesis generate requests from the document: path parameters are mostly the world's real
slugs and keys (so requests reach the code behind the access checks), bodies and queries are
generated from the schemas, valid ones for every role and invalid ones for the owner. Every
answer must be documented: no 5xx, a documented status code and content type, and a body that
matches the documented schema.

The default run sends a few cases per operation and role on PostgreSQL; the slow sweep sends
many more on both backends.
The number of cases is printed at the end of the run ("schema-driven fuzzing").
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy.orm import sessionmaker

from api.app import create_app
from tests.api.conftest import make_settings
from tests.fuzz.conftest import CASES, OPERATIONS
from tests.security.world import World, build_world

FUZZ_ROLES = ("anonymous", "participant", "staff", "owner")
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
#: Cases per role and operation: the default run, and the slow sweep.
QUICK_EXAMPLES = 2
#: A deeper local run: MATCHMAKING_FUZZ_EXAMPLES=100 pytest -m slow tests/fuzz
SWEEP_EXAMPLES = int(os.environ.get("MATCHMAKING_FUZZ_EXAMPLES", "4"))
#: The suite's cases are the same on every run, so a red CI run is reproducible and never a
#: coin toss; MATCHMAKING_FUZZ_EXPLORE=1 draws new cases on each run to look for new bugs.
EXPLORE = os.environ.get("MATCHMAKING_FUZZ_EXPLORE") == "1"


def _fuzz_app(db_url: str) -> FastAPI:
    # Fuzzing sends many unknown tokens on purpose: the guessing limit would answer 429.
    return create_app(
        make_settings(db_url, guess_limit_failures=10**9, log_requests=False, log_level="ERROR")
    )


def _schema(app: FastAPI) -> Any:
    # From the document itself (no ASGI round trip): requests go through our own client.
    return schemathesis.openapi.from_dict(json.loads(json.dumps(app.openapi())))


#: The document is the same for every app: parsed once.
SCHEMA = _schema(_fuzz_app("sqlite:///:memory:"))
OPERATION_IDS = sorted(
    f"{op.ok().method.upper()} {op.ok().path}" for op in SCHEMA.get_all_operations()
)


def _real_key(path: str, role: str) -> str:
    """A key that exists for the resource the path names."""
    for marker, key in (
        ("/sessions/", "d1"),
        ("/slots/", "s1"),
        ("/locations/", "t1"),
        ("/participants/", "p3"),
        ("/me/wishes/", "w1" if role != "participant" else "w2"),
        ("/wishes/", "w3"),
    ):
        if marker in path:
            return key
    return "x"


def _real_parameters(world: World, path: str, role: str) -> dict[str, Any]:
    return {
        "slug": world.slug,
        "key": _real_key(path, role),
        "number": world.version_number,
        "job_id": world.job_id,
        "token_id": world.token_ids.get(role, world.token_ids["owner"]),
        "organiser_id": world.organiser_ids["staff"],
        "token": world.calendar_tokens["p2"],
    }


@dataclass
class Fuzzing:
    app: FastAPI
    client: TestClient
    world: World
    backend: str


@pytest.fixture
def fuzzing(db_url: str) -> Iterator[Fuzzing]:
    app = _fuzz_app(db_url)
    with sessionmaker(bind=app.state.engine, expire_on_commit=False)() as session:
        world = build_world(session)
    backend = "postgresql" if db_url.startswith("postgresql") else "sqlite"
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Fuzzing(app, client, world, backend)
    app.state.engine.dispose()


def _fuzz(fuzzing: Fuzzing, operation_id: str, examples: int) -> None:
    method, path = operation_id.split(" ", 1)
    operation = SCHEMA[path][method]
    OPERATIONS.add(operation_id)
    for role in FUZZ_ROLES:
        _run(fuzzing, operation, role, GenerationMode.POSITIVE, examples, CHECKS)
    _run(
        fuzzing,
        operation,
        "owner",
        GenerationMode.NEGATIVE,
        examples,
        [*CHECKS, negative_data_rejection],
    )


def _send(client: TestClient, case: Any, credentials: dict[str, str]) -> Any:
    """Send `case` as the role whose `credentials` are given (generated ones are dropped)."""
    kwargs = case.as_transport_kwargs(base_url="http://testserver")
    headers = {
        name: value
        for name, value in kwargs.pop("headers", {}).items()
        if name.lower() not in ("authorization", "x-participant-token")
    }
    headers.update(credentials)
    if isinstance(kwargs.get("data"), bytes | str):
        kwargs["content"] = kwargs.pop("data")  # a raw body (httpx calls it content)
    if kwargs.get("files"):
        kwargs["files"] = [_as_wire_part(part) for part in _parts(kwargs["files"])]
    return client.request(headers=headers, **kwargs)


def _parts(files: Any) -> list[tuple[str, Any]]:
    return list(files.items()) if isinstance(files, dict) else list(files)


def _as_wire_part(part: tuple[str, Any]) -> tuple[str, Any]:
    """A multipart part as a client sends it: a negative case may generate a number or null
    where the schema wants a file, which goes over the wire as its text (httpx wants bytes)."""
    name, value = part
    if isinstance(value, tuple):
        filename, content, *rest = value
        if not isinstance(content, bytes | str):
            content = json.dumps(content)
        return name, (filename, content, *rest)
    if not isinstance(value, bytes | str):
        value = json.dumps(value)
    return name, value


def _negative_locations(case: Any) -> set[str]:
    """Where the generated case breaks the schema on purpose (path, query, header, body)."""
    components = case.meta.components if case.meta is not None else {}
    return {
        str(getattr(location, "value", location))
        for location, info in components.items()
        if info.mode is GenerationMode.NEGATIVE
    }


def _run(
    fuzzing: Fuzzing,
    operation: Any,
    role: str,
    mode: GenerationMode,
    examples: int,
    checks: list[Callable[..., Any]],
) -> None:
    world = fuzzing.world
    real = _real_parameters(world, operation.path, role)

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=not EXPLORE,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode), data=st.data())
    def check(case: Any, data: st.DataObject) -> None:
        negative = _negative_locations(case)
        for name in list(case.path_parameters or {}):
            # Mostly real values, so requests get past "not found" to the code behind it.
            if "path" in negative or name not in real:
                continue
            if data.draw(st.integers(0, 9), label=f"real {name}") < 8:
                case.path_parameters[name] = real[name]
        CASES[f"{fuzzing.backend} {role} {mode.value}"] += 1
        response = _send(fuzzing.client, case, world.headers(role))
        # The role's credentials replace generated headers: a header made invalid on purpose
        # is gone, so the request need not be refused.
        used = CHECKS if "header" in negative else checks
        case.validate_response(response, checks=used, headers=world.headers(role))

    try:
        check()
    except Unsatisfiable:
        # Nothing of the operation can be made invalid (no parameters, no body).
        if mode is not GenerationMode.NEGATIVE:
            raise


# The quick run uses PostgreSQL, the stricter backend (NUL characters, integer ranges); the
# sweep runs on both.
@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("operation_id", OPERATION_IDS)
def test_operation_answers_as_documented_for_every_role(
    operation_id: str, fuzzing: Fuzzing
) -> None:
    _fuzz(fuzzing, operation_id, QUICK_EXAMPLES)


@pytest.mark.slow
@pytest.mark.parametrize("operation_id", OPERATION_IDS)
def test_operation_holds_up_under_a_bigger_sweep(operation_id: str, fuzzing: Fuzzing) -> None:
    _fuzz(fuzzing, operation_id, SWEEP_EXAMPLES)
