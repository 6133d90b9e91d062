"""Recommendation quality and speed (issue 15) on seeded, interest-driven events.

The generator makes an event the way these fairs look: organisations of two or three
delegations (a host side and visitors), each in a sector, offering a few topics and seeking a
few others, with one to three representatives. Topics are (subject, activity) pairs, and the two
sides word them differently: an offer reads "recycling of used batteries" or "battery recyclers"
where the seek reads "partners for battery recycling", and a third of the subjects have a
synonym one side may use instead ("accumulator" for "battery"), which no word matching can see.
Participants send wishes driven by interest: mostly to those who offer what they seek (some to
those who seek what they offer), mostly across delegations, skewed by a per-organisation
attractiveness (a few exhibitors are wished by many), plus some noise.

Then 30 % of each sender's wishes (rounded, at least one of two or more) are hidden, the
recommender ranks with the rest (`Recommender.suggest_all` of
`matchmaking.participants.recommend`, the ranking `recommend-file`, the API and the pages
use), and recall@10 (and @5) is the share of hidden wishes whose recipient is among the
sender's first 10 (5) suggestions. A popularity baseline in
the same run suggests the most-wished participants (same exclusions). Time and peak memory are
those of building the ranking and every participant's suggestions.

    .venv/bin/python benchmarks/recommendations.py [--participants 3500] [--seed 1]
        [--cross-delegation-only] [--bundle OUT.json]

`--bundle` also writes the event (all wishes) as a bundle, for `matchmaking recommend-file`.
Results are appended to `benchmarks/results/recommendations.json`.
"""

from __future__ import annotations

import argparse
import heapq
import json
import platform
import random
import resource
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from repo_root import REPO

from matchmaking.participants.recommend import (
    Person,
    Recommender,
    WishLink,
    delegation_key,
)

# --- the vocabulary ---------------------------------------------------------------------------

#: Subject: (sector, word forms..., synonym or "").
SUBJECTS: list[tuple[str, list[str], str]] = [
    ("Energy", ["battery", "batteries"], "accumulator"),
    ("Energy", ["hydrogen"], "H2"),
    ("Energy", ["smart grid", "smart grids"], "intelligent network"),
    ("Energy", ["solar panel", "solar panels"], "photovoltaics"),
    ("Energy", ["wind turbine", "wind turbines"], ""),
    ("Energy", ["heat pump", "heat pumps"], ""),
    ("Mobility", ["electric vehicle", "electric vehicles"], "EV"),
    ("Mobility", ["drone", "drones"], "UAV"),
    ("Mobility", ["charging station", "charging stations"], ""),
    ("Mobility", ["railway", "railways"], ""),
    ("Digital", ["semiconductor", "semiconductors"], "chip"),
    ("Digital", ["cloud platform", "cloud platforms"], ""),
    ("Digital", ["cybersecurity"], "information security"),
    ("Digital", ["machine learning"], "artificial intelligence"),
    ("Digital", ["quantum computer", "quantum computers"], "qubit processor"),
    ("Digital", ["sensor", "sensors"], "detector"),
    ("Health", ["medical imaging"], "radiology"),
    ("Health", ["vaccine", "vaccines"], ""),
    ("Health", ["wearable device", "wearable devices"], ""),
    ("Health", ["diagnostic test", "diagnostic tests"], "assay"),
    ("Agrifood", ["crop", "crops"], "harvest"),
    ("Agrifood", ["dairy product", "dairy products"], ""),
    ("Agrifood", ["aquaculture"], "fish farming"),
    ("Agrifood", ["food packaging"], ""),
    ("Materials", ["textile", "textiles"], "fabric"),
    ("Materials", ["composite", "composites"], ""),
    ("Materials", ["steel"], ""),
    ("Materials", ["bioplastic", "bioplastics"], ""),
    ("Water", ["wastewater"], "sewage"),
    ("Water", ["desalination"], ""),
]
#: Activity: the forms an offer uses and the forms a seek uses.
ACTIVITIES: list[tuple[list[str], list[str]]] = [
    (["recycling", "recyclers"], ["recycling", "recycle"]),
    (["manufacturing", "manufacturers"], ["manufacturer", "production"]),
    (["testing", "test laboratory"], ["testing", "tests"]),
    (["design", "designers"], ["design"]),
    (["monitoring", "monitoring systems"], ["monitoring"]),
    (["certification", "certifiers"], ["certification", "certified"]),
    (["maintenance"], ["maintenance"]),
    (["software"], ["software"]),
    (["installation", "installers"], ["installation", "install"]),
    (["research"], ["research", "researchers"]),
]
OFFER_TEMPLATES = [
    "{activity} of {subject}",
    "{subject} {activity}",
    "expertise in {subject} {activity}",
    "{subject} {activity} services",
    "{activity} for {subject}",
]
SEEK_TEMPLATES = [
    "partners for {subject} {activity}",
    "{subject} {activity} partners",
    "looking for {activity} of {subject}",
    "suppliers of {subject} {activity}",
    "investors in {subject} {activity}",
    "customers for our {subject} {activity}",
]
FIRST = ["Ana", "Ben", "Chen", "Dara", "Emil", "Fatima", "Goran", "Hana", "Ivo", "Jia", "Kai"]
LAST = ["Berg", "Costa", "Dubois", "Eriksen", "Fischer", "Huang", "Lin", "Novak", "Roy", "Wu"]


@dataclass
class Generated:
    people: list[Person]
    wishes: list[WishLink]
    #: What each organisation offers and seeks (topic numbers) and how attractive it is.
    offered: dict[str, set[int]] = field(default_factory=dict)
    sought: dict[str, set[int]] = field(default_factory=dict)
    attraction: dict[str, float] = field(default_factory=dict)


def _phrase(rng: random.Random, topic: int, offer: bool) -> str:
    subject_index, activity_index = divmod(topic, len(ACTIVITIES))
    _, forms, synonym = SUBJECTS[subject_index]
    subject = synonym if synonym and rng.random() < 0.35 else rng.choice(forms)
    activity = rng.choice(ACTIVITIES[activity_index][0 if offer else 1])
    template = rng.choice(OFFER_TEMPLATES if offer else SEEK_TEMPLATES)
    return template.format(subject=subject, activity=activity)


def generate(
    participants: int, seed: int, cross_delegation_only: bool, skew: float = 2.0
) -> Generated:
    """A seeded interest-driven event of `participants` people; organisations are as
    attractive as a Pareto variable of shape `skew` (smaller: a few are wished far more)."""
    rng = random.Random(seed)
    topics = len(SUBJECTS) * len(ACTIVITIES)
    sectors = sorted({s for s, _, _ in SUBJECTS})
    by_sector: dict[str, list[int]] = defaultdict(list)
    for t in range(topics):
        by_sector[SUBJECTS[t // len(ACTIVITIES)][0]].append(t)
    delegations = ["EU", "Canada", "Taiwan"]
    people: list[Person] = []
    offered: dict[str, set[int]] = {}
    sought: dict[str, set[int]] = {}
    attraction: dict[str, float] = {}
    n = 0
    while len(people) < participants:
        n += 1
        key = f"o{n}"
        sector = rng.choice(sectors)
        home = by_sector[sector]

        def pick(count: int, home: list[int] = home) -> set[int]:
            return {rng.choice(home) if rng.random() < 0.75 else rng.randrange(topics)
                    for _ in range(count)}  # fmt: skip

        offers = pick(rng.randint(1, 4))
        seeks = pick(rng.randint(1, 4)) - offers or pick(1)
        offered[key], sought[key] = offers, seeks
        attraction[key] = rng.paretovariate(skew)
        delegation = rng.choices(delegations, weights=(55, 30, 15))[0]
        name = f"{rng.choice(['Nordic', 'Atlantic', 'Pacific', 'Alpine', 'Delta'])} {n}"
        offer_phrases = tuple(dict.fromkeys(_phrase(rng, t, True) for t in sorted(offers)))
        seek_phrases = tuple(dict.fromkeys(_phrase(rng, t, False) for t in sorted(seeks)))
        for _ in range(rng.choices((1, 2, 3), weights=(60, 30, 10))[0]):
            if len(people) == participants:
                break
            people.append(
                Person(
                    id=f"p{len(people) + 1}",
                    name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                    organisation=key,
                    organisation_name=name,
                    delegation=delegation,
                    offers=offer_phrases,
                    seeks=seek_phrases,
                    sectors=(sector,),
                )
            )
    # Interest-driven wishes.
    by_org: dict[str, list[Person]] = defaultdict(list)
    for person in people:
        by_org[person.organisation].append(person)
    org_keys = list(by_org)
    wishes: list[WishLink] = []
    for person in people:
        mine = person.organisation
        weights = []
        for other in org_keys:
            if other == mine:
                weights.append(0.0)
                continue
            interest = 1.0 * len(sought[mine] & offered[other]) + 0.4 * len(
                offered[mine] & sought[other]
            )
            same = by_org[other][0].delegation == person.delegation
            if same and cross_delegation_only:
                weights.append(0.0)
                continue
            weight = (interest + 0.02) * attraction[other] * (0.25 if same else 1.0)
            weights.append(weight)
        count = min(len(org_keys) - 1, max(1, int(rng.lognormvariate(1.6, 0.6))))
        chosen: set[str] = set()
        while len(chosen) < count:
            other = rng.choices(org_keys, weights=weights)[0]
            if other in chosen:
                continue
            chosen.add(other)
        for other in sorted(chosen):
            wishes.append(WishLink(person.id, recipient=rng.choice(by_org[other]).id))
    return Generated(people, wishes, offered, sought, attraction)


# --- measuring ----------------------------------------------------------------------------------


def split(
    wishes: list[WishLink], seed: int, share: float = 0.3
) -> tuple[list[WishLink], list[WishLink]]:
    """Hide `share` of each sender's wishes (rounded, at least one of two or more)."""
    rng = random.Random(seed + 1)
    by_sender: dict[str, list[WishLink]] = defaultdict(list)
    for wish in wishes:
        by_sender[wish.sender].append(wish)
    visible: list[WishLink] = []
    hidden: list[WishLink] = []
    for sender_wishes in by_sender.values():
        k = len(sender_wishes)
        count = max(1, round(share * k)) if k >= 2 else 0
        hide = set(rng.sample(range(k), count))
        for i, wish in enumerate(sender_wishes):
            (hidden if i in hide else visible).append(wish)
    return visible, hidden


def popularity_baseline(
    people: list[Person], visible: list[WishLink], top: int, rule: bool
) -> dict[str, list[str]]:
    """The most-wished participants, with the recommender's exclusions."""
    received = Counter(w.recipient for w in visible)
    ranked = sorted((p for p in people), key=lambda p: (-received[p.id], p.id))
    linked: dict[str, set[str]] = defaultdict(set)
    for w in visible:
        linked[w.sender].add(w.recipient or "")
        linked[w.recipient or ""].add(w.sender)
    out: dict[str, list[str]] = {}
    for person in people:
        picks: list[str] = []
        for other in ranked:
            if other.organisation == person.organisation or other.id in linked[person.id]:
                continue
            if rule and delegation_key(other.delegation) == delegation_key(person.delegation):
                continue
            picks.append(other.id)
            if len(picks) == top:
                break
        out[person.id] = picks
    return out


def ceilings(
    event: Generated, visible: list[WishLink], rule: bool, top: int = 10
) -> dict[str, dict[str, list[str]]]:
    """What knowing the generator's hidden truth gives (same exclusions), as ceilings:
    `interest` ranks by the true topic interest and the delegation (what profiles can tell),
    `interest, popularity breaks ties` the same with the wishes received (the visible ones,
    as the popularity baseline counts them) deciding among equals, as the issue allows, and
    `interest x attraction` by the very weights the wishes were drawn with. All rank as the
    generator draws: per person (an organisation's weight shared by its representatives, as
    a wish names one of them), and never an organisation the participant already wished (the
    generator wishes an organisation once)."""
    linked: dict[str, set[str]] = defaultdict(set)
    wished: dict[str, set[str]] = defaultdict(set)
    organisation = {p.id: p.organisation for p in event.people}
    members = Counter(organisation.values())
    for w in visible:
        linked[w.sender].add(w.recipient or "")
        linked[w.recipient or ""].add(w.sender)
        wished[w.sender].add(organisation[w.recipient or ""])
    received = Counter(w.recipient for w in visible)
    out: dict[str, dict[str, list[str]]] = {
        "interest": {},
        "interest, popularity breaks ties": {},
        "interest x attraction": {},
    }
    for p in event.people:
        rows: list[tuple[float, float, str]] = []
        for q in event.people:
            if q.organisation == p.organisation or q.id in linked[p.id]:
                continue
            if q.organisation in wished[p.id]:
                continue
            same = q.delegation == p.delegation
            if same and rule:
                continue
            interest = 1.0 * len(event.sought[p.organisation] & event.offered[q.organisation])
            interest += 0.4 * len(event.offered[p.organisation] & event.sought[q.organisation])
            weight = (interest + 0.02) * (0.25 if same else 1.0) / members[q.organisation]
            rows.append((weight, weight * event.attraction[q.organisation], q.id))
        for name, index in (("interest", 0), ("interest x attraction", 1)):
            best = heapq.nlargest(top, rows, key=lambda row: (row[index], row[2]))
            out[name][p.id] = [row[2] for row in best]
        best = heapq.nlargest(top, rows, key=lambda row: (row[0], received[row[2]], row[2]))
        out["interest, popularity breaks ties"][p.id] = [row[2] for row in best]
    return out


def recall(suggestions: dict[str, list[str]], hidden: list[WishLink], k: int) -> float:
    hits = sum(1 for w in hidden if w.recipient in suggestions.get(w.sender, [])[:k])
    return hits / len(hidden) if hidden else 0.0


def run(
    participants: int,
    seed: int,
    rule: bool,
    skew: float = 2.0,
    ceiling: bool = False,
    workers: int = 1,
) -> dict[str, Any]:
    event = generate(participants, seed, rule, skew)
    visible, hidden = split(event.wishes, seed)
    started = time.perf_counter()
    cpu = time.process_time()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    children_before = children.ru_utime + children.ru_stime
    recommender = Recommender(event.people, visible, cross_delegation_only=rule)
    built = time.perf_counter() - started
    every = recommender.suggest_all(10, workers=workers)
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    children_usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    children = children_usage.ru_utime + children_usage.ru_stime - children_before
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    peak_child_mib = children_usage.ru_maxrss / 1024
    ours = {p: [s.participant for s in ss] for p, ss in every.items()}
    baseline = popularity_baseline(event.people, visible, 10, rule)
    with_reasons = all(s.reasons for ss in every.values() for s in ss)
    result: dict[str, Any] = {
        "participants": len(event.people),
        "organisations": len({p.organisation for p in event.people}),
        "wishes": len(event.wishes),
        "hidden": len(hidden),
        "seed": seed,
        "skew": skew,
        "cross_delegation_only": rule,
        "recall@5": round(recall(ours, hidden, 5), 4),
        "recall@10": round(recall(ours, hidden, 10), 4),
        "popularity recall@5": round(recall(baseline, hidden, 5), 4),
        "popularity recall@10": round(recall(baseline, hidden, 10), 4),
        "participants with 10 suggestions": sum(1 for ss in every.values() if len(ss) == 10),
        "every suggestion has a reason": with_reasons,
        "build seconds": round(built, 2),
        "seconds (build + all suggestions)": round(seconds, 2),
        "workers": workers,
        # Of this process only: with workers > 1 the ranking's CPU time is in its children.
        "cpu seconds": round(cpu, 2),
        "children cpu seconds": round(children, 2),
        "peak RSS MiB (whole process)": round(peak_mib, 1),
        "peak RSS MiB (largest child)": round(peak_child_mib, 1),
        "python": platform.python_version(),
        "at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
    }
    ratio = result["recall@10"] / max(result["popularity recall@10"], 1e-9)
    result["recall@10 / popularity"] = round(ratio, 2)
    if ceiling:
        for name, picks in ceilings(event, visible, rule).items():
            result[f"ceiling recall@10 ({name})"] = round(recall(picks, hidden, 10), 4)
    return result


def bundle_document(
    participants: int,
    seed: int,
    rule: bool,
    sessions: list[dict[str, Any]],
    locations: list[dict[str, Any]],
) -> dict[str, Any]:
    """The generated event (all wishes) as a bundle, with the time grid and locations given."""
    event = generate(participants, seed, rule)
    organisations: dict[str, dict[str, Any]] = {}
    for p in event.people:
        organisations.setdefault(
            p.organisation,
            {"id": p.organisation, "name": p.organisation_name, "kind": "company",
             "sectors": list(p.sectors), "offers": list(p.offers), "seeks": list(p.seeks),
             "delegation": p.delegation},
        )  # fmt: skip
    return {
        "format": "matchmaking-bundle/1",
        "event": {"slug": f"interest-{participants}", "name": "Interest-driven fair",
                  "timezone": "Europe/Brussels", "rules": {"cross_delegation_only": rule}},
        "sessions": sessions,
        "locations": locations,
        "organisations": list(organisations.values()),
        "participants": [{"id": p.id, "name": p.name, "organisation": p.organisation}
                         for p in event.people],
        "wishes": [{"id": f"w{i}", "from": w.sender, "to": w.recipient}
                   for i, w in enumerate(event.wishes, 1)],
    }  # fmt: skip


def write_bundle(participants: int, seed: int, rule: bool, path: Path) -> None:
    """The generated event (all wishes) as a bundle for `matchmaking recommend-file`."""
    document = bundle_document(
        participants,
        seed,
        rule,
        sessions=[{"id": "am", "name": "Morning", "slots": [
            {"id": "s1", "start": "2030-03-04T09:00", "end": "2030-03-04T09:20"}]}],
        locations=[{"id": "t1", "name": "Table 1", "kind": "table"}],
    )  # fmt: skip
    path.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--participants", type=int, default=3500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--cross-delegation-only", action="store_true")
    parser.add_argument(
        "--skew",
        type=float,
        default=2.0,
        help="Pareto shape of attractiveness (smaller: more skew).",
    )
    parser.add_argument(
        "--ceiling", action="store_true", help="Also the ceilings of knowing the truth (slow)."
    )
    parser.add_argument(
        "--workers", type=int, default=1, help="Processes that share the ranking (default 1)."
    )
    parser.add_argument("--bundle", type=Path, help="Also write the event as a bundle here.")
    args = parser.parse_args()
    result = run(
        args.participants,
        args.seed,
        args.cross_delegation_only,
        args.skew,
        args.ceiling,
        args.workers,
    )
    print(json.dumps(result, indent=2))
    results = REPO / "benchmarks" / "results" / "recommendations.json"
    history = json.loads(results.read_text()) if results.exists() else []
    history.append(result)
    results.write_text(json.dumps(history, indent=2) + "\n")
    if args.bundle:
        write_bundle(args.participants, args.seed, args.cross_delegation_only, args.bundle)


if __name__ == "__main__":
    main()
