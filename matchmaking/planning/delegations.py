"""The rule `cross_delegation_only` for the solver: delegations put into its `Problem`.

Two participants of the same delegation never meet under the rule (docs/profiles-and-sheets.md);
delegations are compared with case and spacing ignored, and each is shown in the spelling the
event first uses for it. Without the rule the problem is left as it is.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from matchmaking.participants.recommend import delegation_key
from solver.problem import Problem


def apply_delegations(problem: Problem, delegations: Mapping[str, str], rule: bool) -> Problem:
    """`problem` with the rule and each participant's delegation (`delegations`: participant
    id -> delegation, "" or missing = none); unchanged when `rule` is off."""
    if not rule:
        return problem
    spelling: dict[str, str] = {}
    for text in delegations.values():
        key = delegation_key(text)
        if key:
            spelling.setdefault(key, " ".join(text.split()))
    participants = tuple(
        dataclasses.replace(
            p, delegation=spelling.get(delegation_key(delegations.get(p.id, "")), "")
        )
        for p in problem.participants
    )
    return dataclasses.replace(problem, participants=participants, cross_delegation_only=True)


def event_delegations(session: Any, event: Any) -> dict[str, str]:
    """Participant key -> its organisation's delegation, for an event in the database."""
    from sqlalchemy import select

    from matchmaking.platform.models import Organisation, Participant

    rows = session.execute(
        select(Participant.key, Organisation.delegation)
        .join(Organisation, Participant.organisation_id == Organisation.id)
        .where(Participant.event_id == event.id)
        .order_by(Participant.id)
    )
    return {key: delegation or "" for key, delegation in rows}
