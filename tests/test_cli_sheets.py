"""`matchmaking import-sheet`: workbooks and CSV files in, exit 2 with every problem listed
and nothing stored, a round trip of the profile fields through export."""

from __future__ import annotations

import io
import json
from pathlib import Path

from openpyxl import Workbook
from sqlalchemy import create_engine, func, select
from typer.testing import CliRunner

from matchmaking.commands.cli import app
from matchmaking.platform.models import Organisation, Participant, Wish
from tests.test_cli_db import cli, tiny_bundle, write  # noqa: F401 - the fixture

ROWS = [
    ["email", "name", "organisation", "organisation_kind", "country", "offers", "seeks",
     "delegation", "unavailable"],
    ["ana@example.org", "Ana Côté", "Énergie Québec", "cluster", "CA",
     "battery recycling services; grid storage", "partners for green hydrogen", "Canada",
     "2024-09-10 09:30"],
    ["ann.new@example.org", "Ann Berg", "acme ", None, None, None, None, "EU", "s1"],
]  # fmt: skip
WISHES = [
    ["from", "to", "to_organisation", "priority"],
    ["ana@example.org", "ann.new@example.org", None, 1],
    ["ann.new@example.org", None, "Énergie Québec", 3],
]


def xlsx(path: Path, sheets: dict[str, list[list[object]]]) -> Path:
    book = Workbook()
    book.remove(book.active)
    for name, rows in sheets.items():
        sheet = book.create_sheet(name)
        for row in rows:
            sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    path.write_bytes(out.getvalue())
    return path


def _imported(cli: CliRunner, tmp_path: Path) -> None:  # noqa: F811
    assert (
        cli.invoke(app, ["import", str(write(tmp_path / "b.json", tiny_bundle()))]).exit_code == 0
    )


def test_a_workbook_imports_and_its_profile_fields_export_in_the_bundle(
    cli: CliRunner,  # noqa: F811
    tmp_path: Path,
    db_url: str,
) -> None:
    _imported(cli, tmp_path)
    book = xlsx(tmp_path / "people.xlsx", {"participants": ROWS, "wishes": WISHES})

    result = cli.invoke(app, ["import-sheet", "tiny-fair", str(book)])

    assert result.exit_code == 0, result.output
    assert "imported: participants 2 new, 0 updated, 0 unchanged" in result.output
    exported = cli.invoke(app, ["export", "tiny-fair"])
    bundle = json.loads(exported.stdout)
    quebec = next(o for o in bundle["organisations"] if o["name"] == "Énergie Québec")
    assert quebec["offers"] == ["battery recycling services", "grid storage"]
    assert quebec["seeks"] == ["partners for green hydrogen"]
    assert quebec["delegation"] == "Canada"
    acme = next(o for o in bundle["organisations"] if o["name"] == "Acme")
    assert acme["delegation"] == "EU"
    assert "offers" not in acme
    ann = next(p for p in bundle["participants"] if p.get("email") == "ann.new@example.org")
    assert ann["organisation"] == acme["id"]
    assert ann["unavailable"] == ["s1"]
    # The exported bundle imports again to the same bytes (as a new event).
    bundle["event"]["slug"] = "tiny-fair-copy"
    copy = write(tmp_path / "copy.json", bundle)
    assert cli.invoke(app, ["import", str(copy)]).exit_code == 0
    again = json.loads(cli.invoke(app, ["export", "tiny-fair-copy"]).stdout)
    assert again == bundle
    # A second run updates nothing and duplicates nothing.
    second = cli.invoke(app, ["import-sheet", "tiny-fair", str(book)])
    assert "participants 0 new, 0 updated, 2 unchanged" in second.output
    assert "wishes 0 new, 0 updated, 2 unchanged" in second.output
    engine = create_engine(db_url)
    with engine.connect() as connection:
        count = select(func.count()).select_from
        assert connection.scalar(count(Participant)) == 4 * 2  # both events
        assert connection.scalar(count(Wish)) == 3 * 2
    engine.dispose()


def test_csv_files_with_semicolons_and_a_bom_import(
    cli: CliRunner,  # noqa: F811
    tmp_path: Path,
) -> None:
    _imported(cli, tmp_path)
    people = tmp_path / "p.csv"
    people.write_bytes("\ufeffEmail ; Name ;Organisation\r\nz@example.org;Zoé;Acme\r\n".encode())
    wishes = tmp_path / "w.csv"
    wishes.write_text("from,to_organisation\nz@example.org,=cmd|' /C calc'!A0\n")

    result = cli.invoke(
        app, ["import-sheet", "tiny-fair", "--participants", str(people), "--wishes", str(wishes)]
    )

    # The organisation named like a formula cannot be named in a sheet cell.
    assert result.exit_code == 2
    assert (
        "wishes row 2, column to_organisation: \"=cmd|' /C calc'!A0\" is a formula; formulas "
        "are not imported, type the value itself" in result.output
    )
    assert "nothing was stored" in result.output
    wishes.write_text("from,to_organisation\nz@example.org,ACME\n")
    result = cli.invoke(
        app, ["import-sheet", "tiny-fair", "--participants", str(people), "--wishes", str(wishes)]
    )
    assert result.exit_code == 2
    assert "wishes row 2, column to_organisation: is the organisation of the sender itself" in (
        result.output
    )
    ok = cli.invoke(app, ["import-sheet", "tiny-fair", "--participants", str(people)])
    assert ok.exit_code == 0, ok.output


def test_a_bad_workbook_exits_2_listing_every_problem_and_stores_nothing(
    cli: CliRunner,  # noqa: F811
    tmp_path: Path,
    db_url: str,
) -> None:
    _imported(cli, tmp_path)
    rows = [list(r) for r in ROWS]
    rows[1][4] = "Canadia"
    rows.append([None] * 9)
    rows.append(["ana@example.org", "Ana twice", "X", None, None, None, None, None, None])
    book = xlsx(tmp_path / "bad.xlsx", {"participants": rows, "wishes": WISHES})

    result = cli.invoke(app, ["import-sheet", "tiny-fair", str(book)])

    assert result.exit_code == 2
    assert 'participants row 2, column country: "Canadia" is not an ISO 3166 country code' in (
        result.output
    )
    assert 'participants row 5, column email: "ana@example.org" is also in row 2' in result.output
    engine = create_engine(db_url)
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Participant)) == 2
        assert connection.scalar(select(func.count()).select_from(Organisation)) == 2
    engine.dispose()


def test_wrong_arguments_and_unreadable_files_exit_2(
    cli: CliRunner,  # noqa: F811
    tmp_path: Path,
) -> None:
    _imported(cli, tmp_path)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    big = tmp_path / "big.csv"
    with big.open("wb") as stream:
        stream.write(b"email,name,organisation\n")
        stream.write(b"x" * (10 * 1024 * 1024))
    cases = [
        (["import-sheet", "tiny-fair"], "give either a workbook"),
        (["import-sheet", "tiny-fair", str(text)], "is not an XLSX workbook"),
        (["import-sheet", "tiny-fair", "--participants", str(big)], "larger than 5 MB"),
        (["import-sheet", "no-such-event", "--participants", str(text)], "no-such-event"),
        (["import-sheet", "tiny-fair", "--participants", str(tmp_path / "missing.csv")],
         "cannot read"),
    ]  # fmt: skip
    for arguments, message in cases:
        result = cli.invoke(app, arguments)
        assert result.exit_code == 2, (arguments, result.output)
        assert message in result.output, (arguments, result.output)


def test_dry_run_stores_nothing(cli: CliRunner, tmp_path: Path, db_url: str) -> None:  # noqa: F811
    _imported(cli, tmp_path)
    book = xlsx(tmp_path / "people.xlsx", {"participants": ROWS})

    result = cli.invoke(app, ["import-sheet", "tiny-fair", str(book), "--dry-run"])

    assert result.exit_code == 0, result.output
    assert "checked, nothing stored (dry run): participants 2 new" in result.output
    engine = create_engine(db_url)
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Participant)) == 2
    engine.dispose()


def test_under_cross_delegation_only_a_wish_within_a_delegation_is_refused(
    cli: CliRunner,  # noqa: F811
    tmp_path: Path,
    db_url: str,
) -> None:
    from sqlalchemy import update

    from matchmaking.platform.models import Event

    _imported(cli, tmp_path)
    engine = create_engine(db_url)
    with engine.begin() as connection:
        connection.execute(update(Event).values(rules={"cross_delegation_only": True}))
        wishes_before = connection.scalar(select(func.count()).select_from(Wish))
    rows = [list(r) for r in ROWS]
    rows[1][7] = " eu "  # Ana's organisation joins Ann's delegation (case and spaces ignored)
    book = xlsx(tmp_path / "same.xlsx", {"participants": rows, "wishes": WISHES})

    result = cli.invoke(app, ["import-sheet", "tiny-fair", str(book)])

    assert result.exit_code == 2, result.output
    assert "wishes row 2, column to: both sides are of the delegation" in result.output
    assert "wishes row 3, column to_organisation: both sides are of the delegation" in (
        result.output
    )
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Wish)) == wishes_before
        assert connection.scalar(select(func.count()).select_from(Participant)) == 2
    # Different delegations still meet.
    rows[1][7] = "Canada"
    book = xlsx(tmp_path / "other.xlsx", {"participants": rows, "wishes": WISHES})
    assert cli.invoke(app, ["import-sheet", "tiny-fair", str(book)]).exit_code == 0
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Wish)) == wishes_before + 2
    engine.dispose()
