"""Recommendations: for each participant, the partners it should meet next, best first.

Pure functions over plain data (`Person`, `WishLink`): no database, no web, no solver, so the
same ranking serves the recommendations document (`matchmaking recommend-file`), the API and
the pages, and is fast to test. The contract is in docs/profiles-and-sheets.md.

How a candidate partner q is scored for a participant p (each signal is about 0..1):

- *Complementarity* (weight 0.50): what p seeks against what q offers, and what p offers
  against what q seeks. Phrases are compared as TF-IDF vectors of light stems (lower case,
  accents removed, common endings cut, at most six letters) and of their pairs, so that
  "battery recycling services" matches "recycling of used batteries". p's phrases are pooled
  into one unit vector; q's are added up and divided by their count to the power 0.25 (a
  partner that offers four things serves the one p seeks about as well as one that offers
  only that; a plain cosine would favour the narrow one). The better direction counts 70 %,
  the other 30 %: a meeting helps most when both gain.
- *Alike seekers* (0.20): who wished partners like these: the organisations wished by those
  whose seeks are most like p's, and by p's colleagues.
- *Item to item* (0.05): organisations wished by the same senders as those p wished.
- *Description* (0.08): what p seeks against q's description.
- *Sectors* (0.02) and *focus areas* (0.05): the share of them the two have in common.
- *Popularity* (how many senders wished q's organisation) only breaks ties.

A suggestion is one person, and one meeting with any representative serves an organisation:
an organisation's score is divided among its members, and an organisation p already shares a
wish with (one of its members is excluded below) keeps a fifth of it.

Under `cross_delegation_only` a participant of the same delegation is never suggested;
without the rule a same-delegation partner keeps 60 % of its score (these events are held to
meet the other side). A suggestion never names the participant itself, someone of its
organisation, or anyone it shares a wish with in either direction (any status, a wish to an
organisation counting for each of its members). Only `suggestable` people are suggested (in
the database: those listed in the directory). Every suggestion carries at least one reason,
in words a participant understands; a candidate no reason can be given for is left out.
"""

from __future__ import annotations

import heapq
import math
import multiprocessing
import re
import threading
import unicodedata
from collections import Counter, OrderedDict, defaultdict
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

RECOMMENDATIONS_FORMAT = "matchmaking-recommendations/1"
DEFAULT_TOP = 10
MAX_TOP = 100

WEIGHT_COMPLEMENT = 0.50
WEIGHT_COLLABORATIVE = 0.05
WEIGHT_ALIKE = 0.20
WEIGHT_DESCRIPTION = 0.08
WEIGHT_SECTORS = 0.02
WEIGHT_FOCUS = 0.05
#: Signals per organisation pair (see `Recommender._organisation_scores`).
SIGNALS = 8
_NO_SIGNALS = [0.0] * SIGNALS
_NO_COLLABORATION = (0.0, "", 0)
#: The organisations whose seeks are most like one's own whose wishes count, and how alike
#: (cosine) they must be at least.
ALIKE_SEEKERS = 30
#: The most organisations the alike seekers' wishes add to the candidates.
ALIKE_CANDIDATES = 60
MIN_ALIKE_SIMILARITY = 0.2
#: Candidates share a feature that at most these shares of the phrases (or this many) have,
#: the most selective first (see `Recommender._organisation_scores`).
SELECTIVE_SHARES = (0.01, 0.05, 1.0)
SELECTIVE_MIN = 5
#: Fewer candidates than this: every organisation sharing anything is scored.
MIN_CANDIDATES = 30
#: A same-delegation partner (when the event allows such meetings) keeps this share.
SAME_DELEGATION_FACTOR = 0.6
#: A partner of an organisation one already shares a wish with (one of its other
#: representatives) keeps this share: that organisation is being met already.
MET_ORGANISATION_FACTOR = 0.2
#: How a partner's phrases are length-normalised (see `_build_text`).
PARTNER_LENGTH_NORM = 0.25
#: Share of the better and the other direction of complementarity.
BETTER_DIRECTION = 0.7
#: Below this cosine a phrase pair is not named as a reason.
MIN_REASON_SIMILARITY = 0.15
#: A collaborative reason names the organisation that most explains the suggestion when at
#: least this many senders wished both.
MIN_SHARED_SENDERS = 1

# --- plain input and output ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Person:
    """A participant with its organisation's cooperation profile."""

    id: str
    name: str
    organisation: str
    organisation_name: str = ""
    delegation: str = ""
    offers: tuple[str, ...] = ()
    seeks: tuple[str, ...] = ()
    sectors: tuple[str, ...] = ()
    focus_areas: tuple[str, ...] = ()
    description: str = ""
    #: May be suggested to others (in the database: listed in the directory).
    suggestable: bool = True


@dataclass(frozen=True, slots=True)
class WishLink:
    """A wish of any status: its sender and exactly one of a participant or organisation."""

    sender: str
    recipient: str | None = None
    recipient_organisation: str | None = None


@dataclass(frozen=True, slots=True)
class Suggestion:
    participant: str
    #: 0..1, rounded to three decimals; higher is better.
    score: float
    reasons: tuple[str, ...]


# --- text -----------------------------------------------------------------------------------

_WORD = re.compile(r"[^\W_]+")
_STOP_WORDS = """a an and are as at be by for from in into is it its of on or our the their to
    we with you your via per new based using such other others etc also all any more most who which
    looking seeking seek seeks search offer offers offering provide provides providing need
    needs want partner partners partnership service services solution solutions company
    companies organisation organisations organization organizations"""
_STOP = frozenset(_STOP_WORDS.split())
_SUFFIXES = (
    "ational",
    "ations",
    "ation",
    "ities",
    "ments",
    "ment",
    "ings",
    "ing",
    "ity",
    "ies",
    "ied",
    "ers",
    "ors",
    "er",
    "or",
    "ed",
    "es",
    "al",
    "s",
    "y",
    "e",
)
_STEM_LENGTH = 6


def _fold(text: str) -> str:
    """Lower case without accents ("Énergie" -> "energie")."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def stem(word: str) -> str:
    """A light, language-tolerant stem: one common ending cut, at most six letters."""
    if len(word) <= 3 or word.isdigit():
        return word
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    return word[:_STEM_LENGTH]


def terms(text: str) -> list[str]:
    """The stems of a text's words, stop words left out."""
    return [stem(w) for w in _WORD.findall(_fold(text)) if w not in _STOP and len(w) > 1]


#: Phrases longer than this (in terms) get no term pairs.
_MAX_PAIRED_TERMS = 8


def phrase_features(text: str) -> list[str]:
    """A phrase's terms and every pair of its distinct terms, in any order ("batter+recycl"):
    a pair is rare, so two phrases that share both words of a topic score far above two that
    share one ("battery recycling" against "battery design")."""
    words = terms(text)
    distinct = sorted(set(words))
    if len(distinct) > _MAX_PAIRED_TERMS:
        return words
    pairs = [f"{a}+{b}" for i, a in enumerate(distinct) for b in distinct[i + 1 :]]
    return words + pairs


Vector = dict[str, float]


def _normalise(vector: Vector) -> Vector:
    norm = math.sqrt(sum(v * v for v in vector.values()))
    return {t: v / norm for t, v in vector.items()} if norm else {}


def _dot(a: Vector, b: Vector) -> float:
    return sum([a[t] * b[t] for t in a.keys() & b.keys()])


def _tag(text: str) -> str:
    return " ".join(_fold(text).split())


def delegation_key(delegation: str) -> str:
    """What two delegations are compared by: case and spacing ignored ("" = none)."""
    return " ".join(delegation.split()).casefold()


# --- the index --------------------------------------------------------------------------------


@dataclass(slots=True)
class _Organisation:
    key: str
    name: str
    #: As compared (`delegation_key`), "" = none.
    delegation: str = ""
    members: list[str] = field(default_factory=list)
    offers: list[tuple[str, Vector]] = field(default_factory=list)
    seeks: list[tuple[str, Vector]] = field(default_factory=list)
    offers_vector: Vector = field(default_factory=dict)
    seeks_vector: Vector = field(default_factory=dict)
    #: As a partner is compared: its phrases' vectors added up, less length-normalised
    #: (see `_build_text`).
    offers_as_partner: Vector = field(default_factory=dict)
    seeks_as_partner: Vector = field(default_factory=dict)
    description_vector: Vector = field(default_factory=dict)
    sectors: dict[str, str] = field(default_factory=dict)
    focus_areas: dict[str, str] = field(default_factory=dict)


class Recommender:
    """The ranking over one event's people and wishes; build once, ask for many."""

    def __init__(
        self,
        people: Sequence[Person],
        wishes: Iterable[WishLink],
        *,
        cross_delegation_only: bool = False,
    ) -> None:
        self.people: dict[str, Person] = {p.id: p for p in people}
        self.cross_delegation_only = cross_delegation_only
        self.organisations: dict[str, _Organisation] = {}
        for person in people:
            org = self.organisations.get(person.organisation)
            if org is None:
                org = self.organisations[person.organisation] = _Organisation(
                    person.organisation,
                    person.organisation_name or person.organisation,
                    delegation_key(person.delegation),
                )
                self._profile(org, person)
            org.members.append(person.id)
        self._build_text()
        self._build_wishes(wishes)
        self._build_postings()

    # -- building

    @staticmethod
    def _profile(org: _Organisation, person: Person) -> None:
        org.offers = [(phrase, {}) for phrase in dict.fromkeys(person.offers)]
        org.seeks = [(phrase, {}) for phrase in dict.fromkeys(person.seeks)]
        org.sectors = {_tag(s): s for s in person.sectors if _tag(s)}
        org.focus_areas = {_tag(s): s for s in person.focus_areas if _tag(s)}
        # Term counts for now; `_build_text` turns them into a TF-IDF vector.
        org.description_vector = {
            t: float(n) for t, n in Counter(terms(person.description)).items()
        }

    def _build_text(self) -> None:
        # Document frequency over phrases (offers and seeks) and descriptions.
        df: Counter[str] = Counter()
        documents = 0
        for org in self.organisations.values():
            for phrase, _ in org.offers + org.seeks:
                df.update(set(phrase_features(phrase)))
                documents += 1
            if org.description_vector:
                df.update(org.description_vector.keys())
                documents += 1
        idf = {t: math.log(1.0 + documents / n) for t, n in df.items()}
        #: Features by selectiveness: those at most 1 % of the phrases have, 5 %, any.
        self._tiers = [
            frozenset(t for t, n in df.items() if n <= max(SELECTIVE_MIN, share * documents))
            for share in SELECTIVE_SHARES
        ]

        def vector(text: str) -> Vector:
            counts = Counter(phrase_features(text))
            return _normalise({t: (1.0 + math.log(n)) * idf[t] for t, n in counts.items()})

        for org in self.organisations.values():
            org.offers = [(phrase, vector(phrase)) for phrase, _ in org.offers]
            org.seeks = [(phrase, vector(phrase)) for phrase, _ in org.seeks]
            org.offers_vector = _pool(v for _, v in org.offers)
            org.seeks_vector = _pool(v for _, v in org.seeks)
            # A partner that offers four things serves what it offers about as well as one
            # that offers only that: its phrases are added up and divided by their count to
            # the power PARTNER_LENGTH_NORM (0 = a plain sum; 0.5 is about the pooled cosine).
            org.offers_as_partner = _added(org.offers)
            org.seeks_as_partner = _added(org.seeks)
            org.description_vector = _normalise(
                {t: (1.0 + math.log(n)) * idf[t] for t, n in org.description_vector.items()}
            )

    def _build_wishes(self, wishes: Iterable[WishLink]) -> None:
        #: Pairs (either order) of participants that share a wish, and per participant the
        #: organisations it wished (collaborative signal).
        self.linked: dict[str, set[str]] = defaultdict(set)
        self.wished_organisations: dict[str, set[str]] = defaultdict(set)
        senders_of: dict[str, set[str]] = defaultdict(set)
        for wish in wishes:
            sender = self.people.get(wish.sender)
            if sender is None:
                continue
            if wish.recipient is not None:
                recipient = self.people.get(wish.recipient)
                if recipient is None:
                    continue
                others = [recipient.id]
                organisation = recipient.organisation
            else:
                organisation = wish.recipient_organisation or ""
                if organisation not in self.organisations:
                    continue
                others = self.organisations[organisation].members
            for other in others:
                self.linked[sender.id].add(other)
                self.linked[other].add(sender.id)
            if organisation != sender.organisation:
                self.wished_organisations[sender.id].add(organisation)
                senders_of[organisation].add(sender.id)
        self.senders_of = senders_of
        self.popularity = {org: len(senders) for org, senders in senders_of.items()}

    def _build_postings(self) -> None:
        self._offer_postings: dict[str, list[tuple[str, float]]] = defaultdict(list)
        self._seek_postings: dict[str, list[tuple[str, float]]] = defaultdict(list)
        self._description_postings: dict[str, list[tuple[str, float]]] = defaultdict(list)
        self._sector_postings: dict[str, list[str]] = defaultdict(list)
        self._focus_postings: dict[str, list[str]] = defaultdict(list)
        self._suggestable_organisations = {
            org.key
            for org in self.organisations.values()
            if any(self.people[m].suggestable for m in org.members)
        }
        for org in self.organisations.values():
            if org.key not in self._suggestable_organisations:
                continue
            for t, v in org.offers_vector.items():
                self._offer_postings[t].append((org.key, v))
            for t, v in org.seeks_vector.items():
                self._seek_postings[t].append((org.key, v))
            for t, v in org.description_vector.items():
                self._description_postings[t].append((org.key, v))
            for tag in org.sectors:
                self._sector_postings[tag].append(org.key)
            for tag in org.focus_areas:
                self._focus_postings[tag].append(org.key)
        # Seeks of every organisation whose members sent wishes, and what they wished.
        self._seeker_postings: dict[str, list[tuple[str, float]]] = defaultdict(list)
        self._organisation_wishes: dict[str, Counter[str]] = defaultdict(Counter)
        for sender, wished in self.wished_organisations.items():
            self._organisation_wishes[self.people[sender].organisation].update(wished)
        for key in self._organisation_wishes:
            for t, v in self.organisations[key].seeks_vector.items():
                self._seeker_postings[t].append((key, v))
        # Organisation -> sender -> wished organisations, for the item-to-item signal.
        self._wishers = {
            org: [(s, self.wished_organisations[s]) for s in senders]
            for org, senders in self.senders_of.items()
        }

    # -- scoring

    def _organisation_scores(self, key: str) -> dict[str, list[float]]:
        """Signals of the organisations that may be suggested against `key`'s profile:
        [seek->offer, offer->seek, description, sectors, focus, alike seekers, their count].

        Two steps, so that a big event stays fast: the candidates are the organisations
        wished by alike seekers and those sharing a selective feature with the profile (one
        that at most 1 % of the phrases have, such as a pair of words; when that gives too
        few, 5 %; then any term, sector or focus area); only they are scored, exactly."""
        org = self.organisations[key]
        queries = (
            (org.seeks_vector, self._offer_postings),
            (org.offers_vector, self._seek_postings),
            (org.seeks_vector, self._description_postings),
        )
        alike = self._alike_seekers(org)
        candidates = {o for o in alike if o in self._suggestable_organisations}
        for tier in self._tiers:
            for vector, postings in queries:
                for t in vector:
                    if t in tier:
                        candidates.update(other for other, _ in postings.get(t, ()))
            if len(candidates) > MIN_CANDIDATES:
                break
        else:
            for tags, tag_postings in (
                (org.sectors, self._sector_postings),
                (org.focus_areas, self._focus_postings),
            ):
                for tag in tags:
                    candidates.update(tag_postings.get(tag, ()))
        candidates.discard(key)
        scores: dict[str, list[float]] = {}
        for other_key in candidates:
            scores[other_key] = _signals(
                org, self.organisations[other_key], alike.get(other_key, (0.0, 0, 0))
            )
        return scores

    def _alike_seekers(self, org: _Organisation) -> dict[str, tuple[float, int, int]]:
        """The organisations wished by those who seek what `org` seeks and by its own
        members, weighted by how alike the seeks are (0..1, the best 1), with how many
        participants of other organisations and how many of its own wished each."""
        similar: set[str] = set()
        for tier in self._tiers:
            for t in org.seeks_vector:
                if t in tier:
                    similar.update(other for other, _ in self._seeker_postings.get(t, ()))
            similar.discard(org.key)
            if len(similar) >= ALIKE_SEEKERS:
                break
        alike = heapq.nlargest(
            ALIKE_SEEKERS,
            ((other, _dot(org.seeks_vector, self.organisations[other].seeks_vector))
             for other in similar),
            key=lambda item: item[1],
        )  # fmt: skip
        alike.append((org.key, 1.0))
        raw: dict[str, float] = defaultdict(float)
        count: Counter[str] = Counter()
        colleagues: Counter[str] = Counter()
        for other, similarity in alike:
            if similarity < MIN_ALIKE_SIMILARITY:
                continue
            for wished, n in self._organisation_wishes.get(other, {}).items():
                raw[wished] += similarity * n
                (colleagues if other == org.key else count)[wished] += n
        best = heapq.nlargest(ALIKE_CANDIDATES, raw.items(), key=lambda item: item[1])
        top = best[0][1] if best else 0.0
        return {wished: (value / top, count[wished], colleagues[wished]) for wished, value in best}

    def _collaborative(self, participant: str) -> dict[str, tuple[float, str, int]]:
        """Organisation -> (0..1 score, the wished organisation that explains it most, how
        many senders wished both)."""
        mine = self.wished_organisations.get(participant, set())
        if not mine:
            return {}
        raw: dict[str, float] = defaultdict(float)
        best: dict[str, tuple[float, str, int]] = {}
        for wished in mine:
            wishers = self._wishers.get(wished, [])
            together: Counter[str] = Counter()
            for sender, organisations in wishers:
                if sender == participant:
                    continue
                together.update(organisations)
            for other, count in together.items():
                if other == wished:
                    continue
                similarity = count / math.sqrt(len(wishers) * self.popularity[other])
                raw[other] += similarity
                if other not in best or (similarity, count) > (best[other][0], best[other][2]):
                    best[other] = (similarity, wished, count)
        if not raw:
            return {}
        top = max(raw.values())
        return {
            other: (value / top, best[other][1], best[other][2]) for other, value in raw.items()
        }

    def _allowed(self, person: Person, other: Person) -> bool:
        if other.id == person.id or other.organisation == person.organisation:
            return False
        if not other.suggestable or other.id in self.linked.get(person.id, ()):
            return False
        return not (
            self.cross_delegation_only
            and delegation_key(person.delegation)
            and delegation_key(person.delegation) == delegation_key(other.delegation)
        )

    def suggest(
        self,
        participant: str,
        top: int = DEFAULT_TOP,
        *,
        excluded: Collection[str] = (),
        _organisation_scores: dict[str, list[float]] | None = None,
    ) -> list[Suggestion]:
        """The `top` partners `participant` should meet next, best first (empty for an
        unknown participant). `excluded`: participants to leave out besides those the
        ranking's own wishes exclude (wishes sent since the ranking was built)."""
        person = self.people.get(participant)
        if person is None or top <= 0:
            return []
        by_org = (
            _organisation_scores
            if _organisation_scores is not None
            else self._organisation_scores(person.organisation)
        )
        collaborative = self._collaborative(participant)
        mine = delegation_key(person.delegation)
        met = {
            self.people[other].organisation
            for other in self.linked.get(participant, set()).union(excluded)
            if other in self.people
        }
        ranked: list[tuple[float, int, str]] = []
        for key in by_org.keys() | collaborative.keys():
            signals = by_org.get(key, _NO_SIGNALS)
            seek, offer, description, sectors, focus, alike, _, _ = signals
            better, other = max(seek, offer), min(seek, offer)
            score = (
                WEIGHT_COMPLEMENT * (BETTER_DIRECTION * better + (1 - BETTER_DIRECTION) * other)
                + WEIGHT_COLLABORATIVE * collaborative.get(key, _NO_COLLABORATION)[0]
                + WEIGHT_ALIKE * alike
                + WEIGHT_DESCRIPTION * description
                + WEIGHT_SECTORS * sectors
                + WEIGHT_FOCUS * focus
            )
            if score <= 0 or key == person.organisation:
                continue
            if mine and mine == self.organisations[key].delegation:
                if self.cross_delegation_only:
                    continue
                score *= SAME_DELEGATION_FACTOR
            # A suggestion is one person: an organisation's fit is shared by its
            # representatives, as one meeting with any of them serves it.
            score /= len(self.organisations[key].members)
            if key in met:
                score *= MET_ORGANISATION_FACTOR
            ranked.append((score, self.popularity.get(key, 0), key))

        def order(item: tuple[float, int, str]) -> tuple[float, int, str]:
            # Best first; popularity breaks ties, then the key (same input, same order).
            return (-item[0], -item[1], item[2])

        def best_first() -> Iterator[tuple[float, int, str]]:
            # Usually the first few have reasons; sort the rest only when they do not.
            first = heapq.nsmallest(top + 20, ranked, key=order)
            yield from first
            if len(first) < len(ranked):
                yield from sorted(ranked, key=order)[len(first) :]

        suggestions: list[Suggestion] = []
        for score, _, key in best_first():
            members = [
                m
                for m in self.organisations[key].members
                if m not in excluded and self._allowed(person, self.people[m])
            ]
            if not members:
                continue
            reasons = self._reasons(person, key, by_org.get(key), collaborative.get(key))
            if not reasons:
                continue
            for member in sorted(members):
                suggestions.append(Suggestion(member, round(min(score, 1.0), 3), reasons))
                if len(suggestions) == top:
                    return suggestions
        return suggestions

    def reasons_between(self, participant: str, other: str) -> tuple[str, ...]:
        """Why `participant` should meet `other`, in `participant`'s words ("you" being
        `participant`), whether or not `other` is among its suggestions: the reasons of a
        proposal for the side whose ranking did not make it. Empty for unknown people."""
        person, partner = self.people.get(participant), self.people.get(other)
        if person is None or partner is None:
            return ()
        org = self.organisations[person.organisation]
        theirs = self.organisations[partner.organisation]
        signals = _signals(org, theirs, self._alike_seekers(org).get(theirs.key, (0.0, 0, 0)))
        collaborative = self._collaborative(participant).get(theirs.key)
        return self._reasons(person, theirs.key, signals, collaborative)

    def suggest_all(
        self, top: int = DEFAULT_TOP, *, workers: int = 1
    ) -> dict[str, list[Suggestion]]:
        """Every participant's suggestions, in the order the people were given. With
        `workers` > 1 (where processes can be forked: not under a running web server), the
        organisations are shared among that many processes; the answer is the same."""
        keys = list(self.organisations)
        workers = max(1, min(workers, len(keys)))
        if workers == 1 or "fork" not in multiprocessing.get_all_start_methods():
            found = self._suggest_for(keys, top)
        else:
            global _FORKED
            shares = [keys[i::workers] for i in range(workers)]
            # The forked processes find the ranking here (inherited, not copied).
            _FORKED = self
            try:
                with multiprocessing.get_context("fork").Pool(workers) as pool:
                    parts = pool.starmap(_suggest_forked, [(share, top) for share in shares])
            finally:
                _FORKED = None
            found = {person: s for part in parts for person, s in part.items()}
        return {person: found[person] for person in self.people}

    def _suggest_for(self, keys: list[str], top: int) -> dict[str, list[Suggestion]]:
        """The suggestions of the members of these organisations."""
        found: dict[str, list[Suggestion]] = {}
        # One organisation at a time: its members share the signals of its profile.
        for key in keys:
            scores = self._organisation_scores(key)
            for member in self.organisations[key].members:
                found[member] = self.suggest(member, top, _organisation_scores=scores)
        return found

    # -- reasons

    def _reasons(
        self,
        person: Person,
        key: str,
        signals: list[float] | None,
        collaborative: tuple[float, str, int] | None,
    ) -> tuple[str, ...]:
        mine = self.organisations[person.organisation]
        theirs = self.organisations[key]
        weighted: list[tuple[float, str]] = []
        match = _best_pair(mine.seeks, theirs.offers)
        if match is not None:
            similarity, seek, offer = match
            weighted.append((similarity, _sentence("offers", offer, "you seek", seek)))
        match = _best_pair(mine.offers, theirs.seeks)
        if match is not None:
            similarity, own_offer, seek = match
            weighted.append((similarity, _sentence("seeks", seek, "you offer", own_offer)))
        if collaborative is not None and collaborative[2] >= MIN_SHARED_SENDERS:
            _, wished, count = collaborative
            name = self.organisations[wished].name
            who = "participant" if count == 1 else "participants"
            weighted.append(
                (
                    0.5 * collaborative[0] + 0.1,
                    f"{count} {who} who asked to meet {name}, as you did, also asked to meet "
                    f"{theirs.name}",
                )
            )
        if signals is not None and signals[6] >= 1:
            count = int(signals[6])
            who = "1 participant who seeks" if count == 1 else f"{count} participants who seek"
            weighted.append(
                (0.5 * signals[5] + 0.05, f"{who} what you seek asked to meet {theirs.name}")
            )
        if signals is not None and signals[7] >= 1:
            count = int(signals[7])
            who = "a colleague of yours" if count == 1 else f"{count} of your colleagues"
            weighted.append((0.5 * signals[5] + 0.06, f"{who} asked to meet {theirs.name}"))
        if signals is not None and signals[2] > 0 and not match and mine.seeks:
            best = max(mine.seeks, key=lambda s: _dot(s[1], theirs.description_vector))
            if _dot(best[1], theirs.description_vector) >= MIN_REASON_SIMILARITY:
                weighted.append(
                    (
                        _dot(best[1], theirs.description_vector),
                        f"its description matches what you seek ({best[0]})",
                    )
                )
        shared = [theirs.sectors[t] for t in theirs.sectors if t in mine.sectors]
        if shared:
            weighted.append((0.12, f"works in {_join(shared)}, as you do"))
        shared = [theirs.focus_areas[t] for t in theirs.focus_areas if t in mine.focus_areas]
        if shared:
            weighted.append((0.11, f"works on {_join(shared)}, as you do"))
        weighted.sort(key=lambda item: -item[0])
        return tuple(text for _, text in weighted[:3])


#: The ranking `Recommender.suggest_all` shares with the processes it forks.
_FORKED: Recommender | None = None


def _suggest_forked(keys: list[str], top: int) -> dict[str, list[Suggestion]]:
    if _FORKED is None:
        raise RuntimeError("no ranking to share: call Recommender.suggest_all")
    return _FORKED._suggest_for(keys, top)


def _signals(
    org: _Organisation, other: _Organisation, alike: tuple[float, int, int]
) -> list[float]:
    """The signals of `other` as a partner of `org` (see `Recommender._organisation_scores`)."""
    raw, count, colleagues = alike
    return [
        _dot(org.seeks_vector, other.offers_as_partner),
        _dot(org.offers_vector, other.seeks_as_partner),
        _dot(org.seeks_vector, other.description_vector),
        _overlap(org.sectors, other.sectors),
        _overlap(org.focus_areas, other.focus_areas),
        raw,
        float(count),
        float(colleagues),
    ]


def _overlap(mine: dict[str, str], theirs: dict[str, str]) -> float:
    """Shared tags over the geometric mean of the two counts, 0..1."""
    if not mine or not theirs:
        return 0.0
    shared = sum(1 for tag in mine if tag in theirs)
    return shared / math.sqrt(len(mine) * len(theirs)) if shared else 0.0


def _sum(vectors: Iterable[Vector]) -> Vector:
    added: Vector = defaultdict(float)
    for vector in vectors:
        for t, v in vector.items():
            added[t] += v
    return added


def _pool(vectors: Iterable[Vector]) -> Vector:
    return _normalise(_sum(vectors))


def _added(phrases: list[tuple[str, Vector]]) -> Vector:
    scale = max(1, len(phrases)) ** PARTNER_LENGTH_NORM
    return {t: v / scale for t, v in _sum(v for _, v in phrases).items()}


def _best_pair(
    left: list[tuple[str, Vector]], right: list[tuple[str, Vector]]
) -> tuple[float, str, str] | None:
    """The most similar (left, right) phrase pair, when similar enough to be named."""
    best: tuple[float, str, str] | None = None
    for a, va in left:
        for b, vb in right:
            similarity = _dot(va, vb)
            if similarity >= MIN_REASON_SIMILARITY and (best is None or similarity > best[0]):
                best = (similarity, a, b)
    return best


def _sentence(verb: str, theirs: str, yours: str, own: str) -> str:
    """A reason such as "offers battery recycling services, which you seek", naming your own
    phrase in brackets when it is worded differently."""
    if _tag(theirs) == _tag(own):
        return f"{verb} {theirs}, which {yours}"
    return f"{verb} {theirs}, which {yours} ({own})"


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# --- the recommendations document ---------------------------------------------------------------


def people_of_bundle(bundle: Any) -> tuple[list[Person], list[WishLink]]:
    """The people and wishes of a validated bundle (`matchmaking.bundle.schemas.Bundle`).
    Every participant may be suggested: the bundle is the organiser's own file."""
    organisations = {o.id: o for o in bundle.organisations}
    people = []
    for p in bundle.participants:
        o = organisations[p.organisation]
        people.append(_person(p.id, p.name, o.id, o))
    wishes = [
        WishLink(sender=w.from_, recipient=w.to, recipient_organisation=w.to_organisation)
        for w in bundle.wishes
    ]
    return people, wishes


def _person(
    key: str,
    name: str,
    organisation_key: str,
    organisation: Any,
    focus_areas: Iterable[str] = (),
    *,
    suggestable: bool = True,
) -> Person:
    """A participant with the cooperation profile of its `organisation`, a bundle's or a stored
    one (both have a name, delegation, offers, seeks, sectors and description)."""
    o = organisation
    return Person(
        id=key,
        name=name,
        organisation=organisation_key,
        organisation_name=o.name,
        delegation=o.delegation or "",
        offers=tuple(o.offers or ()),
        seeks=tuple(o.seeks or ()),
        sectors=tuple(o.sectors or ()),
        focus_areas=tuple(focus_areas),
        description=o.description or "",
        suggestable=suggestable,
    )


def recommendations_document(
    bundle: Any, top: int = DEFAULT_TOP, *, workers: int = 1
) -> dict[str, Any]:
    """The recommendations document (format `matchmaking-recommendations/1`) of a bundle:
    every participant in the bundle's order, each with its `top` suggestions (ranked by
    `workers` processes)."""
    people, wishes = people_of_bundle(bundle)
    recommender = Recommender(
        people, wishes, cross_delegation_only=bool(bundle.event.rules.cross_delegation_only)
    )
    every = recommender.suggest_all(top, workers=workers)
    return {
        "format": RECOMMENDATIONS_FORMAT,
        "event": bundle.event.slug,
        "recommendations": [
            {
                "participant": person.id,
                "suggestions": [
                    {"participant": s.participant, "score": s.score, "reasons": list(s.reasons)}
                    for s in every[person.id]
                ],
            }
            for person in people
        ],
    }


# --- from the database ----------------------------------------------------------------------------


#: Rankings of recently asked events, by what they were built from (see `_fingerprint`).
_CACHE: OrderedDict[tuple[Any, ...], Recommender] = OrderedDict()
_CACHE_SIZE = 4
#: The ranking of an event is rebuilt after this many new wishes (see `_fingerprint`).
WISH_EPOCH = 25
_CACHE_LOCK = threading.Lock()


def _fingerprint(session: Any, event: Any) -> tuple[Any, ...]:
    """What the ranking of an event depends on, in three cheap queries: its serving generation
    (raised by every change of a participant or an organisation, the rules with the event),
    how many participants it has and the newest one, and how many wishes, by WISH_EPOCH."""
    from sqlalchemy import func, select

    from matchmaking.platform.models import Event, Participant, Wish

    people = select(func.count(Participant.id), func.max(Participant.id)).where(
        Participant.event_id == event.id
    )
    wishes = select(func.count(Wish.id)).where(Wish.event_id == event.id)
    generation = select(Event.serving_generation, Event.rules, Event.created_at).where(
        Event.id == event.id
    )
    served = session.execute(generation).one()
    return (
        # The database and the event itself (an id may come again after a deletion).
        session.get_bind().url.render_as_string(hide_password=True),
        event.id,
        served[2],
        served[0],
        repr(sorted((served[1] or {}).items())),
        *session.execute(people).one(),
        # Wishes change the ranking only a little (the collaborative signals): it is rebuilt
        # every WISH_EPOCH new wishes. What they exclude is read fresh for every request.
        (session.execute(wishes).scalar_one() or 0) // WISH_EPOCH,
    )


def recommender_for_event(session: Any, event: Any) -> Recommender:
    """The ranking over an event in the database (`session` a SQLAlchemy session, `event` a
    `matchmaking.models.Event`). Only participants listed in the directory are suggested, as
    only they can be sent a wish; everyone gets suggestions. Built once per state of the
    event and kept for the next requests (a few events per process)."""
    key = _fingerprint(session, event)
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
        if cached is not None:
            _CACHE.move_to_end(key)
            return cached
    recommender = _build_for_event(session, event)
    with _CACHE_LOCK:
        _CACHE[key] = recommender
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return recommender


def _build_for_event(session: Any, event: Any) -> Recommender:
    from sqlalchemy import select

    from matchmaking.platform.models import Organisation, Participant, Wish

    organisations = {
        row.id: row
        for row in session.execute(
            select(
                Organisation.id,
                Organisation.key,
                Organisation.name,
                Organisation.delegation,
                Organisation.offers,
                Organisation.seeks,
                Organisation.sectors,
                Organisation.focus_areas,
                Organisation.description,
            ).where(Organisation.event_id == event.id)
        )
    }
    keys: dict[int, str] = {}
    people = []
    for row in session.execute(
        select(
            Participant.id,
            Participant.key,
            Participant.name,
            Participant.organisation_id,
            Participant.listed,
        )
        .where(Participant.event_id == event.id)
        .order_by(Participant.id)
    ):
        o = organisations[row.organisation_id]
        keys[row.id] = row.key
        people.append(
            _person(row.key, row.name, o.key, o, o.focus_areas or (), suggestable=bool(row.listed))
        )
    organisation_keys = {id_: o.key for id_, o in organisations.items()}
    wishes = [
        WishLink(
            sender=keys[row.sender_id],
            recipient=keys.get(row.recipient_id) if row.recipient_id is not None else None,
            recipient_organisation=organisation_keys.get(row.recipient_organisation_id)
            if row.recipient_organisation_id is not None
            else None,
        )
        for row in session.execute(
            select(Wish.sender_id, Wish.recipient_id, Wish.recipient_organisation_id).where(
                Wish.event_id == event.id
            )
        )
        if row.sender_id in keys
    ]
    return Recommender(
        people, wishes, cross_delegation_only=bool((event.rules or {}).get("cross_delegation_only"))
    )


def linked_participants(session: Any, event: Any, participant_key: str) -> set[str]:
    """The keys of everyone a participant shares a wish with now, in either direction and of
    any status (a wish to an organisation counts for each of its members)."""
    from sqlalchemy import or_, select

    from matchmaking.platform.models import Participant, Wish

    me = session.execute(
        select(Participant.id, Participant.organisation_id).where(
            Participant.event_id == event.id, Participant.key == participant_key
        )
    ).one_or_none()
    if me is None:
        return set()
    people: set[int] = set()
    organisations: set[int] = set()
    for recipient, organisation in session.execute(
        select(Wish.recipient_id, Wish.recipient_organisation_id).where(Wish.sender_id == me.id)
    ):
        if recipient is not None:
            people.add(recipient)
        if organisation is not None:
            organisations.add(organisation)
    people.update(
        session.scalars(
            select(Wish.sender_id).where(
                Wish.event_id == event.id,
                or_(
                    Wish.recipient_id == me.id,
                    Wish.recipient_organisation_id == me.organisation_id,
                ),
            )
        )
    )
    if not people and not organisations:
        return set()
    keys = select(Participant.key).where(
        Participant.event_id == event.id,
        or_(Participant.id.in_(people), Participant.organisation_id.in_(organisations)),
    )
    return set(session.scalars(keys))


def suggestions_for_participant(
    session: Any, event: Any, participant_key: str, top: int = DEFAULT_TOP
) -> list[tuple[Suggestion, Any]]:
    """A participant's suggestions, each with the suggested `Participant` row (its
    organisation loaded), for the API and the pages."""
    from sqlalchemy import select
    from sqlalchemy.orm import selectinload

    from matchmaking.platform.models import Participant

    ranking = recommender_for_event(session, event).suggest(
        participant_key, top, excluded=linked_participants(session, event, participant_key)
    )
    if not ranking:
        return []
    rows = session.scalars(
        select(Participant)
        .where(
            Participant.event_id == event.id,
            Participant.key.in_([s.participant for s in ranking]),
        )
        .options(selectinload(Participant.organisation))
    )
    by_key = {p.key: p for p in rows}
    return [(s, by_key[s.participant]) for s in ranking if s.participant in by_key]
