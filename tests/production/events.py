"""A seeded matchmaking event whose solve keeps improving for longer than a test waits.

Optional wishes with mixed priorities and every goal of the default order: the solver finds
a schedule in well under a second but does not prove the breaks goal optimal for a long
time, so a solve with a time limit of a few seconds is still running when a test kills its
worker.
"""

from __future__ import annotations

import random
from typing import Any


def busy_event_bundle(
    slug: str = "worker-kill", participants: int = 60, seed: int = 7
) -> dict[str, Any]:
    rng = random.Random(seed)
    slots = [
        {
            "id": f"s{i + 1}",
            "start": f"2030-05-06T{9 + i // 3:02d}:{(i % 3) * 20:02d}",
            "end": f"2030-05-06T{9 + i // 3:02d}:{(i % 3) * 20 + 15:02d}",
        }
        for i in range(12)
    ]
    people = [f"p{i + 1}" for i in range(participants)]
    wishes: list[dict[str, Any]] = []
    for sender in people:
        for recipient in rng.sample([p for p in people if p != sender], 7):
            wishes.append(
                {
                    "id": f"w{len(wishes) + 1}",
                    "from": sender,
                    "to": recipient,
                    "priority": rng.choice((1, 2, 2, 3)),
                }
            )
    return {
        "format": "matchmaking-bundle/1",
        "event": {
            "slug": slug,
            "name": "Worker kill test",
            "timezone": "Europe/Brussels",
            "rules": {"max_meetings_per_participant": 8, "max_break_difference": 1},
        },
        "sessions": [{"id": "am", "name": "Morning", "slots": slots}],
        "locations": [
            {"id": f"t{i + 1}", "name": f"Table {i + 1}", "kind": "table"} for i in range(12)
        ],
        "organisations": [
            {
                "id": f"o{i + 1}",
                "name": f"Organisation {i + 1}",
                "kind": "cluster" if i % 4 == 0 else "company",
                "country": "BE",
            }
            for i in range(participants)
        ],
        "participants": [
            {"id": p, "name": f"Person {i + 1}", "organisation": f"o{i + 1}"}
            for i, p in enumerate(people)
        ],
        "wishes": wishes,
    }
