"""Spreadsheet imports over the API: who may, what is stored, and bad files refused whole."""

from __future__ import annotations

import io
from typing import Any

import pytest
from fastapi.testclient import TestClient
from openpyxl import Workbook, load_workbook

from matchmaking.bundle.sheets import MAX_FILE_BYTES
from tests.api.conftest import Factory

PARTICIPANTS = (
    "email,name,organisation,organisation_kind,country,sectors,offers,seeks,delegation,"
    "job_title,attendance,unavailable,max_meetings\r\n"
    "ana@example.org,Ana Côté,Énergie Québec,cluster,CA,Energy;Hydrogen,"
    "battery recycling services,partners for green hydrogen,Canada,Director,onsite,"
    "2030-09-10 09:00,6\r\n"
    "bo@example.org,Bo Nowak,Baltic Grid,company,PL,,smart grid pilots,,EU,,,,\r\n"
    "cy@example.org,Cy Berg,baltic grid ,,,,,,,,,,\r\n"
)
WISHES = (
    "from,to,to_organisation,priority,status,required\r\n"
    "ana@example.org,bo@example.org,,1,accepted,yes\r\n"
    "bo@example.org,,Énergie Québec,3,requested,no\r\n"
)


def workbook(sheets: dict[str, list[list[Any]]]) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def post(
    client: TestClient,
    slug: str,
    headers: dict[str, str],
    main: bytes,
    wishes: bytes | None = None,
    **params: Any,
) -> Any:
    files: dict[str, Any] = {"file": ("sheet", main, "application/octet-stream")}
    if wishes is not None:
        files["wishes"] = ("wishes.csv", wishes, "text/csv")
    return client.post(
        f"/api/v1/events/{slug}/imports", files=files, headers=headers, params=params
    )


def participants(client: TestClient, slug: str, owner: dict[str, str]) -> list[dict[str, Any]]:
    answer = client.get(f"/api/v1/events/{slug}/participants?limit=500", headers=owner)
    assert answer.status_code == 200, answer.text
    return answer.json()["items"]


@pytest.fixture
def owner(make: Factory) -> dict[str, str]:
    return make.organiser()


@pytest.fixture
def slug(make: Factory, owner: dict[str, str]) -> str:
    return make.event(owner, mode="hybrid")


def errors_of(answer: Any) -> list[str]:
    assert answer.status_code == 422, answer.text
    body = answer.json()
    return [f"{e['field']}: {e['message']}" for e in body["errors"]]


# --- what is stored --------------------------------------------------------------------------


def test_csv_import_creates_participants_organisations_profiles_and_wishes(
    client: TestClient, owner: dict[str, str], slug: str
) -> None:
    answer = post(client, slug, owner, PARTICIPANTS.encode(), WISHES.encode())

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["dry_run"] is False
    assert body["participants"] == {"create": 3, "update": 0, "unchanged": 0}
    assert body["organisations"] == {"create": 2, "update": 0, "unchanged": 0}
    assert body["wishes"] == {"create": 2, "update": 0, "unchanged": 0}
    people = {p["email"]: p for p in participants(client, slug, owner)}
    ana, bo, cy = people["ana@example.org"], people["bo@example.org"], people["cy@example.org"]
    assert ana["name"] == "Ana Côté"
    assert ana["job_title"] == "Director"
    assert ana["max_meetings"] == 6
    assert len(ana["unavailable_slots"]) == 1
    assert ana["organisation"]["offers"] == ["battery recycling services"]
    assert ana["organisation"]["seeks"] == ["partners for green hydrogen"]
    assert ana["organisation"]["delegation"] == "Canada"
    assert ana["organisation"]["sectors"] == ["Energy", "Hydrogen"]
    assert ana["organisation"]["kind"] == "cluster"
    assert ana["organisation"]["country"] == "CA"
    # "baltic grid " is the same organisation as "Baltic Grid" (case and spaces ignored).
    assert cy["organisation"]["key"] == bo["organisation"]["key"]
    assert bo["organisation"]["delegation"] == "EU"
    bundle = client.get(f"/api/v1/events/{slug}/bundle", headers=owner).json()
    wishes = [(w["from"], w.get("to"), w.get("to_organisation"), w["priority"], w["status"],
               w["required"]) for w in bundle["wishes"]]  # fmt: skip
    assert wishes == [
        (ana["key"], bo["key"], None, 1, "accepted", True),
        (bo["key"], None, ana["organisation"]["key"], 3, "requested", False),
    ]


def test_a_second_import_updates_by_email_and_never_duplicates(
    client: TestClient, owner: dict[str, str], slug: str
) -> None:
    assert post(client, slug, owner, PARTICIPANTS.encode(), WISHES.encode()).status_code == 200
    again = (
        "Email;Name;Organisation;Job_Title;Max_Meetings\r\n"
        "ANA@example.org;Ana Côté-Roy;ÉNERGIE QUÉBEC;CEO;4\r\n"
        "bo@example.org;Bo Nowak;Baltic Grid;;\r\n"
        "dee@example.org;Dee Park;Baltic Grid;;\r\n"
    )
    wishes = "from;to;to_organisation;priority\r\nana@example.org;bo@example.org;;2\r\n"

    answer = post(client, slug, owner, ("\ufeff" + again).encode(), wishes.encode())

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["participants"] == {"create": 1, "update": 1, "unchanged": 1}
    assert body["organisations"] == {"create": 0, "update": 0, "unchanged": 2}
    assert body["wishes"] == {"create": 0, "update": 1, "unchanged": 0}
    assert body["rows"]["update"] == [
        {"row": 2, "email": "ANA@example.org", "name": "Ana Côté-Roy",
         "changes": ["job_title", "max_meetings", "name"]}
    ]  # fmt: skip
    people = {p["email"].lower(): p for p in participants(client, slug, owner)}
    assert len(people) == 4
    ana = people["ana@example.org"]
    assert (ana["name"], ana["job_title"], ana["max_meetings"]) == ("Ana Côté-Roy", "CEO", 4)
    # Empty cells and absent columns keep what is stored.
    assert ana["organisation"]["offers"] == ["battery recycling services"]
    bundle = client.get(f"/api/v1/events/{slug}/bundle", headers=owner).json()
    assert len(bundle["wishes"]) == 2
    assert bundle["wishes"][0]["priority"] == 2
    assert bundle["wishes"][0]["required"] is True


def test_a_workbook_imports_like_the_csv_files(
    client: TestClient, owner: dict[str, str], slug: str
) -> None:
    data = workbook(
        {
            "Participants ": [
                [" EMAIL", "Name", "organisation", "max_meetings", "unavailable"],
                [
                    "ana@example.org",
                    "Ana Côté",
                    "Énergie Québec",
                    5,
                    "2030-09-10 09:00; 2030-09-10 09:25",
                ],
                [None, None, None, None, None],
                ["bo@example.org", "Bo Nowak", "Baltic Grid", None, None],
            ],
            "wishes": [["from", "to"], ["ana@example.org", "bo@example.org"]],
            "notes": [["ignored"]],
        }
    )

    answer = post(client, slug, owner, data)

    assert answer.status_code == 200, answer.text
    assert answer.json()["participants"]["create"] == 2
    assert answer.json()["wishes"]["create"] == 1
    people = {p["email"]: p for p in participants(client, slug, owner)}
    assert people["ana@example.org"]["max_meetings"] == 5
    assert len(people["ana@example.org"]["unavailable_slots"]) == 2


def test_dry_run_answers_the_plan_and_stores_nothing(
    client: TestClient, owner: dict[str, str], slug: str
) -> None:
    answer = post(client, slug, owner, PARTICIPANTS.encode(), WISHES.encode(), dry_run="true")

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["dry_run"] is True
    assert body["participants"]["create"] == 3
    assert [r["email"] for r in body["rows"]["create"]] == [
        "ana@example.org", "bo@example.org", "cy@example.org",
    ]  # fmt: skip
    assert participants(client, slug, owner) == []
    # The digest of the checked files imports them; other files are refused.
    other = post(client, slug, owner, PARTICIPANTS.encode(), None, digest=body["digest"])
    assert other.status_code == 409, other.text
    same = post(client, slug, owner, PARTICIPANTS.encode(), WISHES.encode(), digest=body["digest"])
    assert same.status_code == 200
    assert len(participants(client, slug, owner)) == 3


def test_the_template_downloads_as_a_workbook_and_as_csv(
    client: TestClient, owner: dict[str, str], slug: str
) -> None:
    xlsx = client.get(f"/api/v1/events/{slug}/imports/template", headers=owner)
    assert xlsx.status_code == 200
    book = load_workbook(io.BytesIO(xlsx.content))
    assert book["participants"]["A1"].value == "email"
    assert book["participants"]["A2"].value == "k.sermuksnyte@example.org"
    assert [c.value for c in book["wishes"][1]][:3] == ["from", "to", "to_organisation"]
    csv = client.get(
        f"/api/v1/events/{slug}/imports/template?format=csv&sheet=wishes", headers=owner
    )
    assert csv.status_code == 200
    assert csv.text.lstrip("\ufeff").startswith("from,to,")
    # The participants template, example row and all, imports as it is.
    rows = client.get(f"/api/v1/events/{slug}/imports/template?format=csv", headers=owner)
    assert post(client, slug, owner, rows.content).status_code == 200


# --- who may ---------------------------------------------------------------------------------


def test_only_organisers_of_the_event_may_import(
    client: TestClient, make: Factory, owner: dict[str, str], slug: str
) -> None:
    stranger = make.organiser()
    assert post(client, slug, {}, PARTICIPANTS.encode()).status_code == 401
    assert post(client, slug, stranger, PARTICIPANTS.encode()).status_code == 404
    client.post(f"/api/v1/events/{slug}/open", headers=owner)
    person = make.participant(slug)
    assert post(client, slug, person["headers"], PARTICIPANTS.encode()).status_code == 401
    template = f"/api/v1/events/{slug}/imports/template"
    assert client.get(template).status_code == 401
    assert client.get(template, headers=stranger).status_code == 404
    assert len(participants(client, slug, owner)) == 1


def test_staff_of_the_event_may_import(
    client: TestClient, make: Factory, owner: dict[str, str], slug: str
) -> None:
    staff_email = "staff@example.org"
    staff = make.organiser(staff_email)
    granted = client.put(
        f"/api/v1/events/{slug}/roles", json={"email": staff_email, "role": "staff"},
        headers=owner,
    )  # fmt: skip
    assert granted.status_code == 200, granted.text
    assert post(client, slug, staff, PARTICIPANTS.encode()).status_code == 200


# --- bad files ---------------------------------------------------------------------------------


def test_every_problem_is_named_by_sheet_row_and_column_and_nothing_is_stored(
    client: TestClient, owner: dict[str, str], slug: str
) -> None:
    bad = (
        "email,name,organisation,country,attendance,max_meetings,unavailable\r\n"
        "ana@example.org,Ana,Énergie Québec,CA,onsite,2,\r\n"
        "not-an-email,Bo,Baltic Grid,PL,,,\r\n"
        ",,,,,,\r\n"
        "cy@example.org,Cy,Baltic Grid,Canadia,,-1,\r\n"
        "ANA@example.org,Ana again,Énergie Québec,CA,,,\r\n"
        "dee@example.org,,Dee Ltd,DE,everywhere,,2031-01-01 10:00\r\n"
        'eve@example.org,=HYPERLINK("http://x"),Eve Ltd,FR,,,\r\n'
    )
    wishes = (
        "from,to,to_organisation,priority,status,required\r\n"
        "ana@example.org,zed@example.org,,1,,\r\n"
        "ana@example.org,,,,,\r\n"
        "ana@example.org,cy@example.org,,5,maybe,perhaps\r\n"
    )

    answer = post(client, slug, owner, bad.encode(), wishes.encode())

    assert errors_of(answer) == [
        'participants row 3, column email: "not-an-email" is not an e-mail address',
        'participants row 5, column country: "Canadia" is not an ISO 3166 country code',
        'participants row 5, column max_meetings: "-1" is not a whole number from 0 to 10000',
        'participants row 6, column email: "ANA@example.org" is also in row 2; '
        "each participant is one row",
        "participants row 7, column name: is required",
        'participants row 7, column attendance: "everywhere" is not an attendance; use onsite '
        "or online",
        'participants row 7, column unavailable: "2031-01-01 10:00" is neither a slot id nor '
        'the start of a slot ("YYYY-MM-DD HH:MM")',
        'participants row 8, column name: "=HYPERLINK("http://x")" is a formula; formulas are '
        "not imported, type the value itself",
        'wishes row 2, column to: "zed@example.org" is no participant of the event or of the '
        "participants sheet",
        'wishes row 3, column to: give exactly one of "to" and "to_organisation"',
        'wishes row 4, column priority: "5" is not a priority; use 1 (must meet), 2 (want to '
        "meet) or 3 (nice to meet)",
        'wishes row 4, column status: "maybe" is not a status; use accepted, requested or declined',
        'wishes row 4, column required: "perhaps" is not yes or no',
    ]
    assert answer.json()["type"] == "/problems/invalid-spreadsheet"
    assert participants(client, slug, owner) == []


def test_unknown_and_missing_columns_are_refused(
    client: TestClient, owner: dict[str, str], slug: str
) -> None:
    answer = post(client, slug, owner, b"E-Mail,name,company,name\r\nx@example.org,X,Y,Z\r\n")

    columns = (
        "unknown column; the participants columns are: email, name, organisation, "
        "organisation_kind, country, sectors, offers, seeks, delegation, job_title, "
        "attendance, unavailable, max_meetings"
    )
    assert errors_of(answer) == [
        "participants row 1, column email: this required column is missing",
        "participants row 1, column name: the column appears twice",
        "participants row 1, column organisation: this required column is missing",
        f"participants row 1, column e-mail: {columns}",
        f"participants row 1, column company: {columns}",
    ]


def test_rows_of_one_organisation_must_agree_and_duplicate_wishes_are_refused(
    client: TestClient, owner: dict[str, str], slug: str
) -> None:
    rows = (
        "email,name,organisation,country,delegation\r\n"
        "a@example.org,A,Acme,DE,EU\r\n"
        "b@example.org,B,ACME,FR,\r\n"
    )
    wishes = "from,to\r\na@example.org,b@example.org\r\nA@example.org,B@example.org\r\n"

    answer = post(client, slug, owner, rows.encode(), wishes.encode())

    assert errors_of(answer) == [
        'participants row 3, column country: differs from "DE" given for "Acme" in row 2; '
        "rows of one organisation must agree",
        "wishes row 3, column to: the same wish is in row 2",
    ]


def test_a_workbook_formula_is_refused_not_evaluated(
    client: TestClient, owner: dict[str, str], slug: str
) -> None:
    data = workbook(
        {
            "participants": [
                ["email", "name", "organisation", "max_meetings"],
                ["a@example.org", "A", "Acme", "=1+1"],
            ]
        }
    )

    assert errors_of(post(client, slug, owner, data)) == [
        'participants row 2, column max_meetings: "=1+1" is a formula; formulas are not '
        "imported, type the value itself"
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"%PDF-1.7\n\x00\x01\x02\xff\xfe binary", "file: the participants file is neither an "
         'XLSX workbook nor CSV text in UTF-8 (in a spreadsheet program, save it as "CSV UTF-8")'),
        (b"PK\x03\x04 not really a zip", "file: is not an XLSX workbook (the file is damaged)"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1 old", "file: is an old .xls workbook (or an "
         "encrypted one); save it as .xlsx"),
        (b"", "participants: the sheet is empty"),
    ],
    ids=["binary", "broken-zip", "xls", "empty"],
)  # fmt: skip
def test_a_file_that_is_no_spreadsheet_is_refused(
    client: TestClient, owner: dict[str, str], slug: str, content: bytes, message: str
) -> None:
    assert errors_of(post(client, slug, owner, content)) == [message]


def test_a_workbook_without_a_participants_sheet_is_refused(
    client: TestClient, owner: dict[str, str], slug: str
) -> None:
    data = workbook({"Sheet1": [["email"]]})
    assert errors_of(post(client, slug, owner, data)) == [
        'file: has no sheet "participants" (its sheets: "Sheet1")'
    ]


def test_a_file_above_the_size_limit_is_refused_with_413(
    client: TestClient, owner: dict[str, str], slug: str
) -> None:
    header = b"email,name,organisation\r\n"
    row = b"someone@example.org,Some One,Some Organisation\r\n"
    big = header + row * (10_000_000 // len(row))
    assert len(big) > MAX_FILE_BYTES

    answer = post(client, slug, owner, big)

    assert answer.status_code == 413, answer.text
    assert [e["message"] for e in answer.json()["errors"]] == [
        "the file is larger than 5 MB; split it, or remove pictures and other sheets"
    ]
    assert participants(client, slug, owner) == []


def test_a_wish_to_an_unknown_email_refuses_the_whole_file(
    client: TestClient, owner: dict[str, str], slug: str
) -> None:
    wishes = "from,to\r\nana@example.org,nobody@example.org\r\n"
    answer = post(client, slug, owner, PARTICIPANTS.encode(), wishes.encode())
    assert errors_of(answer) == [
        'wishes row 2, column to: "nobody@example.org" is no participant of the event or of '
        "the participants sheet"
    ]
    assert participants(client, slug, owner) == []


def test_an_update_changes_organisations_moves_people_and_refreshes_what_is_served(
    client: TestClient, owner: dict[str, str], slug: str, app: Any
) -> None:
    from sqlalchemy import select

    from matchmaking.platform.models import Event

    assert post(client, slug, owner, PARTICIPANTS.encode()).status_code == 200
    with app.state.sessionmaker() as session:
        generation = session.scalar(select(Event.serving_generation).where(Event.slug == slug))
    moved = (
        "email,name,organisation,country,seeks,unavailable\r\n"
        "ana@example.org,Ana Côté,Énergie Québec,FR,investors; pilot customers,"
        "2030-09-10 09:25;2030-09-10 09:50\r\n"
        "cy@example.org,Cy Berg,Énergie Québec,,,\r\n"
    )

    answer = post(client, slug, owner, moved.encode())

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["organisations"] == {"create": 0, "update": 1, "unchanged": 0}
    assert body["rows"]["organisations_update"] == [
        {"name": "Énergie Québec", "changes": ["country", "seeks"]}
    ]
    assert {r["email"]: r["changes"] for r in body["rows"]["update"]} == {
        "ana@example.org": ["unavailable"],
        "cy@example.org": ["organisation"],
    }
    people = {p["email"]: p for p in participants(client, slug, owner)}
    ana, cy = people["ana@example.org"], people["cy@example.org"]
    assert ana["organisation"]["country"] == "FR"
    assert ana["organisation"]["seeks"] == ["investors", "pilot customers"]
    assert ana["organisation"]["offers"] == ["battery recycling services"]
    assert len(ana["unavailable_slots"]) == 2
    assert cy["organisation"]["key"] == ana["organisation"]["key"]
    with app.state.sessionmaker() as session:
        later = session.scalar(select(Event.serving_generation).where(Event.slug == slug))
    assert later > generation
