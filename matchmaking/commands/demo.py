"""`matchmaking demo`: a realistic EU–Canada cluster matchmaking, solved, published, served.

The event is generated from a seed, so the same seed gives the same organisations, people and
wishes: clusters, SMEs, research bodies and public agencies from fifteen EU countries and
Canada, in artificial intelligence, advanced manufacturing, digital and quantum technology,
meeting in Montréal over two half-day sessions of 20-minute meetings. All names are invented;
e-mail addresses use the reserved `.example` domain.
"""

from __future__ import annotations

import os
import random
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

SLUG = "eu-canada-montreal"
TIMEZONE = "America/Toronto"
FOCUS_AREAS = [
    "Artificial Intelligence",
    "Advanced Manufacturing",
    "Digital Technologies",
    "Quantum Technology",
]
MEETING = timedelta(minutes=20)
PAUSE = timedelta(minutes=5)
TABLES = 25
HOST_TABLES = 5


class DemoError(RuntimeError):
    """The demo could not be built (a failed solve, a database that cannot be written)."""


# --- the people and organisations of the event -------------------------------------------------


@dataclass(frozen=True, slots=True)
class Country:
    code: str
    legal_form: str
    cities: tuple[str, ...]
    regions: tuple[str, ...]
    first_names: tuple[str, ...]
    last_names: tuple[str, ...]


COUNTRIES: tuple[Country, ...] = (
    Country(
        "DE",
        "GmbH",
        ("Munich", "Dresden", "Stuttgart", "Berlin"),
        ("Bavarian", "Saxon", "Baden", "Rhine-Ruhr"),
        ("Jonas", "Lena", "Matthias", "Sabine", "Jürgen", "Katrin"),
        ("Müller", "Schäfer", "Weiß", "Hoffmann", "Krüger", "Becker"),
    ),
    Country(
        "FR",
        "SAS",
        ("Lyon", "Toulouse", "Grenoble", "Nantes"),
        ("Auvergne-Rhône", "Occitanie", "Grand Est", "Pays de la Loire"),
        ("Camille", "Julien", "Élodie", "Mathieu", "Inès", "Thibault"),
        ("Lefèvre", "Moreau", "Girard", "Fournier", "Rousseau", "Faure"),
    ),
    Country(
        "IT",
        "S.r.l.",
        ("Turin", "Milan", "Bologna", "Pisa"),
        ("Piedmont", "Lombardy", "Emilia", "Tuscany"),
        ("Giulia", "Marco", "Chiara", "Alessandro", "Federica", "Lorenzo"),
        ("Rossi", "Bianchi", "Esposito", "Ricci", "Marino", "Greco"),
    ),
    Country(
        "ES",
        "S.L.",
        ("Barcelona", "Bilbao", "Valencia", "Madrid"),
        ("Catalan", "Basque", "Valencian", "Madrid"),
        ("Lucía", "Javier", "Nerea", "Iñaki", "Marta", "Sergio"),
        ("García", "Etxeberria", "Martínez", "Núñez", "Ibáñez", "Ortega"),
    ),
    Country(
        "NL",
        "B.V.",
        ("Eindhoven", "Delft", "Twente", "Amsterdam"),
        ("Brainport", "South Holland", "Twente", "Amsterdam"),
        ("Sanne", "Daan", "Femke", "Joris", "Maartje", "Bram"),
        ("de Vries", "van Dijk", "Bakker", "Visser", "Smit", "Mulder"),
    ),
    Country(
        "BE",
        "SRL",
        ("Leuven", "Liège", "Ghent", "Brussels"),
        ("Flemish", "Walloon", "Ghent", "Brussels"),
        ("Wout", "Amélie", "Pieter", "Charlotte", "Arnaud", "Lotte"),
        ("Peeters", "Janssens", "Dubois", "Lambert", "Claes", "Maes"),
    ),
    Country(
        "AT",
        "GmbH",
        ("Linz", "Graz", "Vienna"),
        ("Upper Austrian", "Styrian", "Vienna"),
        ("Florian", "Anna", "Lukas", "Theresa"),
        ("Gruber", "Huber", "Wagner", "Pichler"),
    ),
    Country(
        "DK",
        "ApS",
        ("Aarhus", "Odense", "Copenhagen"),
        ("Danish", "Funen", "Zealand"),
        ("Mette", "Rasmus", "Signe", "Søren"),
        ("Nielsen", "Jørgensen", "Andersen", "Holm"),
    ),
    Country(
        "SE",
        "AB",
        ("Gothenburg", "Linköping", "Lund"),
        ("West Swedish", "Östergötland", "Skåne"),
        ("Linnea", "Oskar", "Ebba", "Anders"),
        ("Lindqvist", "Åberg", "Svensson", "Nyström"),
    ),
    Country(
        "FI",
        "Oy",
        ("Tampere", "Oulu", "Espoo"),
        ("Pirkanmaa", "Northern Finland", "Uusimaa"),
        ("Aino", "Mikko", "Sanna", "Juho"),
        ("Virtanen", "Mäkinen", "Korhonen", "Lehtonen"),
    ),
    Country(
        "PL",
        "sp. z o.o.",
        ("Wrocław", "Kraków", "Gdańsk"),
        ("Lower Silesian", "Małopolska", "Pomeranian"),
        # Surnames here take the form of the first name's gender, so pick one gender.
        ("Agnieszka", "Zofia", "Magdalena", "Katarzyna"),
        ("Kowalska", "Nowak", "Wiśniewska", "Zielińska"),
    ),
    Country(
        "CZ",
        "s.r.o.",
        ("Brno", "Prague", "Ostrava"),
        ("South Moravian", "Prague", "Moravian-Silesian"),
        ("Jakub", "Ondřej", "Tomáš", "Petr"),
        ("Novotný", "Dvořák", "Černý", "Procházka"),
    ),
    Country(
        "PT",
        "Lda.",
        ("Porto", "Braga", "Lisbon"),
        ("Northern Portugal", "Minho", "Lisbon"),
        ("Inês", "João", "Beatriz", "Tiago"),
        ("Ferreira", "Gonçalves", "Sousa", "Carvalho"),
    ),
    Country(
        "IE",
        "Ltd",
        ("Cork", "Galway", "Dublin"),
        ("Munster", "Western", "Dublin"),
        ("Aoife", "Cian", "Niamh", "Ciarán"),
        ("Ó Briain", "Murphy", "Kelly", "Byrne"),
    ),
    Country(
        "LT",
        "UAB",
        ("Vilnius", "Kaunas"),
        ("Vilnius", "Kaunas"),
        ("Kristina", "Eglė", "Rūta", "Ieva"),
        ("Šermukšnytė-Alešiūnienė", "Kazlauskienė", "Petrauskaitė", "Jankauskaitė"),
    ),
    Country(
        "CA",
        "Inc.",
        ("Montréal", "Québec", "Toronto", "Waterloo", "Vancouver", "Calgary", "Halifax"),
        ("Québec", "Ontario", "British Columbia", "Alberta", "Atlantic"),
        (
            "Émilie",
            "Olivier",
            "Geneviève",
            "Mathis",
            "Priya",
            "Liam",
            "Chloé",
            "Kwame",
            "Sarah",
            "Étienne",
        ),
        (
            "Tremblay",
            "Gagnon",
            "Roy",
            "Côté",
            "Bouchard",
            "Singh",
            "MacDonald",
            "Nguyen",
            "Wilson",
            "Lavoie",
        ),
    ),
)

SECTORS: dict[str, tuple[str, ...]] = {
    "Artificial Intelligence": ("Machine Vision", "Natural Language Processing", "Health AI",
                                "Trustworthy AI", "Edge AI"),
    "Advanced Manufacturing": ("Robotics", "Additive Manufacturing", "Industry 4.0",
                               "Advanced Materials", "Aerospace"),
    "Digital Technologies": ("Cybersecurity", "Data Spaces", "Digital Twins", "Cloud & Edge",
                             "Semiconductors"),
    "Quantum Technology": ("Quantum Computing", "Quantum Sensing", "Quantum Communication",
                           "Photonics"),
}  # fmt: skip

_SECTOR_WORD = {
    "Artificial Intelligence": ("AI", "Intelligent Systems", "Data & AI"),
    "Advanced Manufacturing": ("Manufacturing", "Mechatronics", "Smart Production"),
    "Digital Technologies": ("Digital", "ICT", "Software"),
    "Quantum Technology": ("Quantum", "Photonics", "Quantum Valley"),
}
_COMPANY_STEMS = (
    "Quant",
    "Robo",
    "Lum",
    "Nexa",
    "Vis",
    "Cogn",
    "Fabr",
    "Sens",
    "Data",
    "Axi",
    "Vor",
    "Mecha",
    "Photo",
    "Cyb",
    "Tera",
    "Neur",
    "Qubi",
    "Opti",
    "Kine",
    "Alto",
)
_COMPANY_ENDINGS = ("ix", "onic", "eq", "ara", "ion", "ent", "ly", "iq", "os", "um", "era", "ify")
_JOB_TITLES = {
    "cluster": ("Cluster Manager", "International Project Manager", "Head of Partnerships"),
    "company": ("CEO", "CTO", "Business Development Manager", "Head of Sales", "Founder"),
    "research": ("Research Director", "Technology Transfer Officer", "Principal Investigator"),
    "public": ("Trade Commissioner", "Innovation Advisor", "Investment Attraction Lead"),
}
_LOOKING_FOR = (
    "pilot customers in North America",
    "European distribution partners",
    "co-development partners for a Horizon Europe proposal",
    "industrial test beds and early adopters",
    "investors and soft-landing support",
    "research partners for joint PhD projects",
    "suppliers of components and subsystems",
    "cluster-to-cluster cooperation and joint missions",
)


@dataclass(slots=True)
class _Org:
    id: str
    name: str
    kind: str
    country: Country
    city: str
    sectors: list[str]
    focus: str
    popularity: float


class _Builder:
    """Builds the bundle document; every choice comes from one seeded random generator."""

    def __init__(self, seed: int, today: date) -> None:
        self.random = random.Random(seed)
        self.today = today
        self.day = event_day(today)
        self.names_used: set[str] = set()

    def document(self) -> dict[str, Any]:
        sessions = self._sessions()
        slot_ids = [s["id"] for block in sessions for s in block["slots"]]
        organisations = self._organisations()
        participants = self._participants(organisations, slot_ids)
        return {
            "format": "matchmaking-bundle/1",
            "event": self._event(),
            "sessions": sessions,
            "locations": self._locations(),
            "organisations": [self._organisation_document(o) for o in organisations],
            "participants": participants,
            "wishes": self._wishes(organisations, participants),
        }

    # event and time grid

    def _event(self) -> dict[str, Any]:
        # Registration closed last night: the organiser is about to schedule.
        closes = datetime.combine(self.today - timedelta(days=1), time(23, 59), ZoneInfo(TIMEZONE))
        return {
            "slug": SLUG,
            "name": "EU–Canada Cluster Matchmaking Montréal",
            "timezone": TIMEZONE,
            "venue": "Palais des congrès de Montréal, 1001 Place Jean-Paul-Riopelle",
            "mode": "hybrid",
            "registration_closes": closes.isoformat(),
            "focus_areas": list(FOCUS_AREAS),
            "rules": {
                "max_meetings_per_participant": 10,
                "max_break_difference": 2,
                "objective": ["required", "scheduled", "fairness", "breaks", "stability"],
            },
            "description": (
                "Pre-arranged one-to-one meetings between European and Canadian clusters, "
                "SMEs, research organisations and public agencies in artificial intelligence, "
                "advanced manufacturing, digital and quantum technology."
            ),
            "video_base_url": "https://meet.example.org/eu-canada",
        }

    def _sessions(self) -> list[dict[str, Any]]:
        blocks = (("am", "Morning meetings", time(9, 0), time(12, 30)),
                  ("pm", "Afternoon meetings", time(14, 0), time(17, 30)))  # fmt: skip
        sessions, number = [], 0
        for key, name, first, last in blocks:
            slots = []
            start = datetime.combine(self.day, first)
            while start + MEETING <= datetime.combine(self.day, last):
                number += 1
                slots.append({"id": f"s{number:02d}", "start": _local(start),
                              "end": _local(start + MEETING)})  # fmt: skip
                start += MEETING + PAUSE
            sessions.append({"id": key, "name": name, "slots": slots})
        return sessions

    def _locations(self) -> list[dict[str, Any]]:
        tables = [
            {"id": f"t{n:02d}", "name": f"Table {n}", "kind": "table"} for n in range(1, TABLES + 1)
        ]
        video = {"id": "video", "name": "Video room", "kind": "online", "capacity": 40,
                 "url": "https://meet.example.org/eu-canada/room"}  # fmt: skip
        return [*tables, video]

    # organisations and people

    def _organisations(self) -> list[_Org]:
        plan = ["cluster"] * 24 + ["company"] * 36 + ["research"] * 12 + ["public"] * 8
        self.random.shuffle(plan)
        canada = next(c for c in COUNTRIES if c.code == "CA")
        europe = [c for c in COUNTRIES if c.code != "CA"]
        self.random.shuffle(europe)
        organisations = []
        for n, kind in enumerate(plan, start=1):
            # About a third Canadian, the rest spread over the EU countries.
            country = (
                # Dealt round the EU countries, so each of them is there.
                canada if n % 3 == 0 else europe[(n - 1 - n // 3) % len(europe)]
            )
            focus = self.random.choice(FOCUS_AREAS)
            sectors = [focus, *self.random.sample(SECTORS[focus], self.random.randint(1, 2))]
            if self.random.random() < 0.3:
                other = self.random.choice([f for f in FOCUS_AREAS if f != focus])
                sectors.append(other)
            city = self.random.choice(country.cities)
            organisations.append(
                _Org(
                    id=f"o{n:02d}",
                    name=self._org_name(kind, country, city, focus),
                    kind=kind,
                    country=country,
                    city=city,
                    sectors=sectors,
                    focus=focus,
                    popularity=self.random.paretovariate(2.0),
                )
            )
        return organisations

    def _org_name(self, kind: str, country: Country, city: str, focus: str) -> str:
        for _ in range(50):
            word = self.random.choice(_SECTOR_WORD[focus])
            # Cities and regions are listed in matching order, so a name fits its city.
            region = country.regions[country.cities.index(city) % len(country.regions)]
            if kind == "cluster":
                name = self.random.choice(
                    (
                        f"{region} {word} Cluster",
                        f"{word} Network {region}",
                        f"{region} {word} Alliance",
                    )
                )
            elif kind == "company":
                stem = self.random.choice(_COMPANY_STEMS) + self.random.choice(_COMPANY_ENDINGS)
                name = f"{stem} {country.legal_form}"
            elif kind == "research":
                name = self.random.choice(
                    (f"{city} Institute for {focus}", f"{region} Centre for {word} Research")
                )
            else:
                name = self.random.choice((f"{region} Innovation Agency", f"Invest {region}"))
            if name not in self.names_used:
                self.names_used.add(name)
                return name
        raise DemoError("could not invent distinct organisation names")  # pragma: no cover

    def _organisation_document(self, org: _Org) -> dict[str, Any]:
        what = {
            "cluster": f"Cluster of {self.random.randint(40, 400)} members in {org.city}",
            "company": f"SME from {org.city} with {self.random.randint(8, 180)} staff",
            "research": f"Applied research organisation in {org.city}",
            "public": f"Regional agency in {org.city} supporting innovation and trade",
        }[org.kind]
        topics = " and ".join(org.sectors[1:3])
        looking = self.random.choice(_LOOKING_FOR)
        domain = "-".join(filter(None, (_ascii(word) for word in org.name.split())))[:40]
        return {
            "id": org.id,
            "name": org.name,
            "kind": org.kind,
            "country": org.country.code,
            "sectors": org.sectors,
            "description": f"{what}, working on {topics}. Looking for {looking}.",
            "website": f"https://{domain.strip('-')}.example",
        }

    def _participants(self, organisations: list[_Org], slot_ids: list[str]) -> list[dict[str, Any]]:
        people: list[dict[str, Any]] = []
        hosts = 0
        for org in organisations:
            count = 2 if len(people) < 80 and self.random.random() < 0.5 else 1
            for _ in range(count):
                people.append(self._person(org, len(people) + 1, slot_ids))
            if org.kind == "cluster" and hosts < HOST_TABLES and org.country.code == "CA":
                # A few Canadian clusters receive visitors at their own stand.
                hosts += 1
                people[-count]["host_location"] = f"t{hosts:02d}"
                people[-count]["attendance"] = "onsite"
        while len(people) < 120:
            org = self.random.choice(organisations)
            people.append(self._person(org, len(people) + 1, slot_ids))
        return people

    def _person(self, org: _Org, number: int, slot_ids: list[str]) -> dict[str, Any]:
        while True:
            first = self.random.choice(org.country.first_names)
            last = self.random.choice(org.country.last_names)
            if f"{first} {last}" not in self.names_used:
                break
        self.names_used.add(f"{first} {last}")
        local = _ascii(f"{first}.{last}", keep=".")
        person: dict[str, Any] = {
            "id": f"p{number:03d}",
            "name": f"{first} {last}",
            "organisation": org.id,
            "email": f"{local}@{org.id}.example",
            "attendance": "online"
            if org.country.code != "CA" and self.random.random() < 0.12
            else "onsite",
            "job_title": self.random.choice(_JOB_TITLES.get(org.kind, ("Manager",))),
            "listed": self.random.random() < 0.95,
        }
        roll = self.random.random()
        if roll < 0.08:
            person["unavailable"] = slot_ids[: len(slot_ids) // 2]  # arrives at lunch
        elif roll < 0.14:
            person["unavailable"] = slot_ids[-3:]  # leaves early for a flight
        if self.random.random() < 0.15:
            person["max_meetings"] = self.random.choice((5, 6, 8))
        if person["attendance"] == "online" and org.country.code != "CA":
            person["timezone"] = _zone_of(org.country.code)
        return person

    # wishes

    def _wishes(
        self, organisations: list[_Org], people: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        org_of = {o.id: o for o in organisations}
        wishes: list[dict[str, Any]] = []
        pairs: set[tuple[str, str]] = set()
        for person in people:
            me = org_of[person["organisation"]]
            # Two hosts both stay at their own tables, so they never ask to meet each other.
            candidates = [
                p
                for p in people
                if p["organisation"] != me.id
                and not ("host_location" in p and "host_location" in person)
            ]
            weights = [self._appeal(me, org_of[p["organisation"]]) for p in candidates]
            for target in self._pick(candidates, weights, self.random.randint(2, 7)):
                pairs.add((person["id"], target["id"]))
                wishes.append(self._wish(len(wishes) + 1, person["id"], to=target["id"]))
        # Many meetings are wanted by both sides: answer a share of the wishes in kind.
        for sender, recipient in sorted(pairs):
            if (recipient, sender) not in pairs and self.random.random() < 0.18:
                pairs.add((recipient, sender))
                wishes.append(self._wish(len(wishes) + 1, recipient, to=sender))
        # A few people ask for "anyone from" an organisation.
        for person in self.random.sample(people, 10):
            own = person["organisation"]
            wanted = self.random.choice(
                [o for o in organisations if o.id != own and o.kind != "public"]
            )
            wishes.append(self._wish(len(wishes) + 1, person["id"], to_organisation=wanted.id))
        return wishes

    def _appeal(self, me: _Org, other: _Org) -> float:
        shared = len(set(me.sectors) & set(other.sectors))
        transatlantic = (me.country.code == "CA") != (other.country.code == "CA")
        weight = other.popularity * (1 + 2 * shared) * (3 if transatlantic else 1)
        if me.kind == "cluster" and other.kind == "cluster":
            weight *= 1.5  # cluster-to-cluster cooperation is what such events are for
        return weight

    def _pick(
        self, items: list[dict[str, Any]], weights: list[float], count: int
    ) -> list[dict[str, Any]]:
        chosen: list[dict[str, Any]] = []
        pool, pool_weights = list(items), list(weights)
        for _ in range(min(count, len(pool))):
            index = self.random.choices(range(len(pool)), weights=pool_weights)[0]
            chosen.append(pool.pop(index))
            pool_weights.pop(index)
        return chosen

    def _wish(self, number: int, sender: str, **recipient: str) -> dict[str, Any]:
        wish: dict[str, Any] = {"id": f"w{number:03d}", "from": sender, **recipient}
        wish["priority"] = self.random.choices((1, 2, 3), weights=(2, 5, 3))[0]
        roll = self.random.random()
        if roll < 0.04:
            wish["status"] = "declined"
        elif roll < 0.09:
            wish["status"] = "requested"
        else:
            wish["status"] = "accepted"
        return wish


_TRANSLITERATE = str.maketrans({"ø": "o", "æ": "ae", "å": "a", "ł": "l", "ß": "ss", "đ": "d"})


def _ascii(text: str, keep: str = "") -> str:
    """Lower-case ASCII letters and digits of `text` (for invented e-mail and web addresses)."""
    plain = unicodedata.normalize("NFKD", text.lower().translate(_TRANSLITERATE))
    return "".join(ch for ch in plain if ch.isascii() and (ch.isalnum() or ch in keep))


def _local(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M")


def _zone_of(country: str) -> str:
    return {
        "DE": "Europe/Berlin", "FR": "Europe/Paris", "IT": "Europe/Rome", "ES": "Europe/Madrid",
        "NL": "Europe/Amsterdam", "BE": "Europe/Brussels", "AT": "Europe/Vienna",
        "DK": "Europe/Copenhagen", "SE": "Europe/Stockholm", "FI": "Europe/Helsinki",
        "PL": "Europe/Warsaw", "CZ": "Europe/Prague", "PT": "Europe/Lisbon",
        "IE": "Europe/Dublin", "LT": "Europe/Vilnius",
    }[country]  # fmt: skip


#: Months of the conference season (no holidays, no daylight-saving change nearby).
_SEASON = (5, 6, 9, 10)


def event_day(today: date) -> date:
    """The demo's meeting day: the second Tuesday of the next season month a month or more
    ahead, so the event always looks upcoming and its registration just closed."""
    year, month = today.year, today.month
    while True:
        month += 1
        if month > 12:
            year, month = year + 1, 1
        if month in _SEASON:
            first = date(year, month, 1)
            day = first + timedelta(days=(1 - first.weekday()) % 7 + 7)
            if day - today >= timedelta(days=30):
                return day


def demo_bundle(seed: int = 7, *, today: date | None = None) -> dict[str, Any]:
    """The demo event as a bundle document (the same for the same seed and day)."""
    return _Builder(seed, today or date.today()).document()


# --- build, solve, publish ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DemoResult:
    slug: str
    database_url: str
    version_number: int
    status: str
    meetings: int
    unscheduled: int
    organiser_email: str
    organiser_token: str
    participant_key: str
    participant_name: str
    participant_token: str
    calendar_token: str


def run_demo(
    *,
    seed: int = 7,
    database: Path = Path("demo.db"),
    time_limit: float = 25.0,
    host: str = "127.0.0.1",
    port: int = 8000,
    say: Callable[[str], None] = print,
) -> DemoResult:
    """Recreate the demo database, import the event, solve it, publish it, print where to look.

    Sets MATCHMAKING_DATABASE_URL for this process, so a server started afterwards in it
    serves the demo database.
    """
    url = _fresh_database(database)
    say(f"1/4  database {database} created and migrated")
    from matchmaking.bundle.validate import BundleError, parse_bundle

    document = demo_bundle(seed)
    try:
        bundle = parse_bundle(document)
    except BundleError as error:  # pragma: no cover - a bug in the generator
        raise DemoError(f"the generated demo bundle is invalid:\n{error}") from error
    event_id = _import(bundle)
    say(
        f'2/4  event "{SLUG}" imported: {len(bundle.participants)} participants of '
        f"{len(bundle.organisations)} organisations, {len(bundle.wishes)} wishes, "
        f"{sum(len(s.slots) for s in bundle.sessions)} slots, {len(bundle.locations)} locations"
    )
    say(f"3/4  solving (up to {time_limit:g} s)…")
    version = _solve(event_id, time_limit, say)
    result = _publish_and_invite(event_id, version.id, url)
    say(
        f"4/4  version {result.version_number} ({result.status}) published: "
        f"{result.meetings} meetings, {result.unscheduled} accepted wishes unscheduled"
    )
    for line in demo_links(result, f"http://{_url_host(host)}:{port}"):
        say(line)
    return result


def _fresh_database(database: Path) -> str:
    from matchmaking.platform.migrate import upgrade_database

    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{database.resolve()}"
    os.environ["MATCHMAKING_DATABASE_URL"] = url
    _forget_cached_configuration()
    try:
        upgrade_database(url)
    except Exception as error:
        raise DemoError(f"cannot create the demo database {database}: {error}") from error
    return url


def _forget_cached_configuration() -> None:
    from matchmaking.platform.db import get_engine, get_sessionmaker
    from matchmaking.platform.settings import get_settings

    get_settings.cache_clear()
    get_engine.cache_clear()
    get_sessionmaker.cache_clear()


def _import(bundle: Any) -> int:
    from matchmaking.bundle.store import import_bundle
    from matchmaking.platform.db import session_scope
    from matchmaking.platform.models import EventStatus

    with session_scope() as session:
        event = import_bundle(session, bundle)
        # Registration is over: the organiser closed it before solving.
        event.status = EventStatus.closed
        session.flush()
        return event.id


def _solve(event_id: int, time_limit: float, say: Callable[[str], None]) -> Any:
    from matchmaking.planning.scheduling import solve_event
    from matchmaking.platform.db import get_sessionmaker
    from solver import SolveParameters

    # A busy machine can leave the first solve without any schedule; one longer retry
    # keeps the demo working there, and each attempt stays in the version history.
    for attempt, limit in enumerate((time_limit, 2 * time_limit)):
        parameters = SolveParameters(time_limit_seconds=limit, workers=2, random_seed=7)
        version = solve_event(get_sessionmaker(), event_id, parameters)
        if version.status in ("optimal", "feasible"):
            return version
        if attempt == 0:
            say(f"     no schedule found in {limit:g} s ({version.status}); trying {2 * limit:g} s")
    raise DemoError(
        f"the solve found no schedule in {2 * time_limit:g} s (status {version.status}); "
        "try a longer --time-limit"
    )


def _publish_and_invite(event_id: int, version_id: int, url: str) -> DemoResult:
    from sqlalchemy import func, select

    from matchmaking.delivery.calendars import issue_calendar_token
    from matchmaking.organising.organisers import create_organiser
    from matchmaking.planning.publishing import publish_version
    from matchmaking.platform.db import session_scope
    from matchmaking.platform.models import (
        Event,
        EventRole,
        EventRoleName,
        Meeting,
        Participant,
        ScheduleVersion,
    )
    from matchmaking.platform.security import PARTICIPANT_TOKEN_PREFIX, hash_token, new_token

    with session_scope() as session:
        event = session.get_one(Event, event_id)
        version = session.get_one(ScheduleVersion, version_id)
        publish_version(session, version)
        organiser, _, organiser_token = create_organiser(
            session,
            email="organiser@eu-canada.example",
            name="Demo Organiser",
            token_name="demo",  # noqa: S106 - the token's label, not a secret
        )
        session.add(EventRole(event=event, organiser=organiser, role=EventRoleName.owner))
        # The participant shown in the links: the one with the most meetings.
        counts = {
            pid: n
            for pid, n in session.execute(
                select(Meeting.participant_a_id, func.count())
                .where(Meeting.version_id == version.id)
                .group_by(Meeting.participant_a_id)
            )
        }
        featured = session.get_one(Participant, max(counts, key=lambda pid: (counts[pid], -pid)))
        access = new_token(PARTICIPANT_TOKEN_PREFIX)
        featured.access_token_hash = hash_token(access)
        calendar = issue_calendar_token(featured)
        meetings = session.scalar(
            select(func.count()).select_from(Meeting).where(Meeting.version_id == version.id)
        )
        return DemoResult(
            slug=event.slug,
            database_url=url,
            version_number=version.number,
            status=version.status,
            meetings=meetings or 0,
            unscheduled=len(version.unscheduled),
            organiser_email=organiser.email,
            organiser_token=organiser_token,
            participant_key=featured.key,
            participant_name=featured.name,
            participant_token=access,
            calendar_token=calendar,
        )


def _url_host(host: str) -> str:
    # Compares with the any-address to print a usable link; binds nothing.
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host  # noqa: S104


def demo_links(result: DemoResult, base: str) -> list[str]:
    """What to open once the server runs, and the secrets shown this once."""
    slug = result.slug
    return [
        "",
        "Open:",
        f"  public event page        {base}/e/{slug}",
        f"  organiser dashboard      {base}/organiser/e/{slug}",
        f"                           (sign in at {base}/organiser/login with the token below)",
        f"  a participant's agenda   {base}/e/{slug}/login?token={result.participant_token}",
        f"                           ({result.participant_name}, {result.participant_key})",
        f"  … as a calendar (.ics)   {base}/calendars/participants/{result.calendar_token}.ics",
        f"  API documentation        {base}/api/v1/docs",
        "",
        f"Organiser API token (shown once): {result.organiser_token}",
        f"  curl -H 'Authorization: Bearer {result.organiser_token}' {base}/api/v1/events/{slug}",
        "",
    ]
