"""The `matchmaking` command line (typer). One function per command.

Exit codes of every command: 0 done; 1 the work ran but did not succeed (for `solve-file`: the
event is infeasible or no schedule was found in time); 2 bad input (a usage error, an
unreadable file, an invalid bundle — with the list of problems on stderr).
"""

from __future__ import annotations

import os
import signal
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

# Commands import what they need themselves: the solver (OR-Tools) and the database layer
# take seconds to load, and `matchmaking --help` or `schema` should not wait for them.
if TYPE_CHECKING:
    from matchmaking.bundle.schemas import Bundle
    from solver.problem import Progress

app = typer.Typer(
    name="matchmaking",
    help="Schedule one-to-one meetings at matchmaking events.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

EXIT_NOT_SOLVED = 1
EXIT_BAD_INPUT = 2

InputFile = Annotated[
    Path,
    typer.Argument(exists=True, dir_okay=False, readable=True, show_default=False),
]
OutputFile = Annotated[
    Path | None,
    typer.Option("--output", "-o", dir_okay=False, help="Write here instead of stdout."),
]
#: The options of the two solve commands (a bundle file, a stored event).
SolveTimeLimit = Annotated[
    float | None,
    typer.Option("--time-limit", min=0.1, help="Seconds (default from settings)."),
]
SolveWorkers = Annotated[
    int | None, typer.Option("--workers", min=1, max=64, help="Solver threads.")
]
Deterministic = Annotated[bool, typer.Option("--deterministic", help="Same input, same schedule.")]


# --- helpers shared by the commands ----------------------------------------------------------


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print `message` on stderr and exit with `code` (no traceback)."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def check_output(output: Path | None) -> None:
    """Exit 2 before any work when `output` cannot be written (its folder is missing)."""
    if output is not None and not output.resolve().parent.is_dir():
        fail(f"cannot write {output}: the folder {output.resolve().parent} does not exist")


def write_output(data: bytes, output: Path | None) -> None:
    """Write to `output` atomically (a reader never sees half a file), or to stdout."""
    if output is None:
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
        return
    check_output(output)
    handle, temporary = tempfile.mkstemp(dir=output.resolve().parent, prefix=f".{output.name}.")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
        os.replace(temporary, output)
    except OSError as error:
        Path(temporary).unlink(missing_ok=True)
        fail(f"cannot write {output}: {error.strerror or error}")


#: A broken bundle can have thousands of problems; the first ones tell what to fix.
MAX_PROBLEMS_SHOWN = 50


def problem_list(problems: list[Any]) -> str:
    lines = [f"  {problem}" for problem in problems[:MAX_PROBLEMS_SHOWN]]
    if len(problems) > MAX_PROBLEMS_SHOWN:
        lines.append(f"  … and {len(problems) - MAX_PROBLEMS_SHOWN} more")
    return "\n".join(lines)


def read_bundle(path: Path) -> Bundle:
    """The validated bundle in the file at `path`, or exit 2 listing its problems."""
    from matchmaking.bundle.validate import BundleError, parse_bundle

    try:
        data = path.read_bytes()
    except OSError as error:
        fail(f"cannot read {path}: {error.strerror or error}")
    try:
        return parse_bundle(data)
    except BundleError as error:
        count = len(error.problems)
        fail(
            f"{path} is not a valid bundle ({count} problem{'s' * (count != 1)}):\n"
            + problem_list(error.problems)
        )


# --- bundle and schema files -------------------------------------------------------------------


@app.command("convert-dzn")
def convert_dzn_command(file: InputFile, output: OutputFile = None) -> None:
    """Convert a UdG B2B benchmark file (.dzn) into a bundle."""
    from matchmaking.bundle.dump import dump_bundle
    from matchmaking.bundle.dzn import DznError, convert_dzn
    from matchmaking.bundle.validate import BundleError, parse_bundle

    try:
        document = convert_dzn(file)
    except DznError as error:
        fail(str(error))
    try:
        bundle = parse_bundle(document)
    except BundleError as error:
        fail(f"{file} converts into an invalid bundle:\n{problem_list(error.problems)}")
    write_output(dump_bundle(bundle), output)


class SchemaKind(StrEnum):
    bundle = "bundle"
    schedule = "schedule"


@app.command("schema")
def schema_command(
    kind: Annotated[SchemaKind, typer.Argument(help="Which format.")],
    output: OutputFile = None,
) -> None:
    """Print the JSON Schema of the bundle or the schedule format."""
    from matchmaking.bundle.json_schema import (
        bundle_json_schema,
        schedule_json_schema,
        schema_text,
    )

    schema = bundle_json_schema() if kind is SchemaKind.bundle else schedule_json_schema()
    write_output(schema_text(schema).encode("utf-8"), output)


# --- solving a bundle file ---------------------------------------------------------------------


@contextmanager
def cancel_on_interrupt() -> Iterator[threading.Event]:
    """An event set by Ctrl-C, so the solve stops and returns its best schedule so far."""
    cancel = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield cancel
        return

    def interrupt(signum: int, frame: object) -> None:
        typer.echo("\ninterrupted: stopping with the best schedule so far", err=True)
        cancel.set()

    previous = signal.signal(signal.SIGINT, interrupt)
    try:
        yield cancel
    finally:
        signal.signal(signal.SIGINT, previous)


def progress_printer(on_terminal: bool) -> Callable[[Progress], None]:
    """A progress callback writing `goal: best … bound …` lines on stderr."""

    def show(progress: Progress) -> None:
        def number(value: float | None) -> str:
            return "–" if value is None else f"{value:g}"

        line = (
            f"{progress.goal}: best {number(progress.objective)}, "
            f"bound {number(progress.bound)}  {progress.elapsed_seconds:.1f} s "
            f"({progress.time_share:.0%} of the time limit)"
        )
        if on_terminal:
            sys.stderr.write(f"\r\x1b[2K{line}")
        else:
            sys.stderr.write(f"{line}\n")
        sys.stderr.flush()

    return show


def summary(schedule: dict[str, Any]) -> str:
    objective = ", ".join(f"{k} {v}" for k, v in schedule["objective"].items())
    bound = ", ".join(f"{k} {v}" for k, v in schedule["bound"].items())
    return (
        f"{schedule['status']}: {len(schedule['meetings'])} meetings, "
        f"{len(schedule['unscheduled'])} wishes unscheduled; {objective or 'no objective'}"
        f"{f' (bound {bound})' if bound else ''}; {schedule['solve_seconds']} s"
    )


@app.command("solve-file")
def solve_file_command(
    bundle_file: InputFile,
    output: OutputFile = None,
    time_limit: SolveTimeLimit = None,
    workers: SolveWorkers = None,
    deterministic: Deterministic = False,
    seed: Annotated[
        int, typer.Option("--seed", min=0, help="Random seed of the search (benchmarks).")
    ] = 0,
    progress: Annotated[
        bool | None,
        typer.Option("--progress/--no-progress", help="Progress on stderr (default: on a TTY)."),
    ] = None,
    replan_from: Annotated[
        Path | None,
        typer.Option(
            "--replan-from",
            exists=True,
            dir_okay=False,
            readable=True,
            help="Re-plan: this schedule JSON is the published schedule to keep stable.",
        ),
    ] = None,
    move_published: Annotated[
        bool,
        typer.Option(
            "--move-published",
            help="With --replan-from: optimise the event's goals in its own order even if "
            "published meetings move (default: they move only to meet more wishes).",
        ),
    ] = False,
) -> None:
    """Solve a bundle file and write the schedule JSON; no database.

    With `--replan-from`, the schedule document given is the published schedule: its
    meetings whose participants, wishes, slot or location no longer exist are dropped, the
    rest kept where they can be, and `stability` is optimised right after `scheduled`.

    Exit 0 when a schedule was found (optimal or feasible), 1 when the event is infeasible or
    no schedule was found in time (the schedule JSON is written all the same), 2 on bad input.
    """
    from matchmaking.bundle.dump import dump_schedule
    from matchmaking.bundle.problem import bundle_to_problem, solution_to_schedule
    from solver import SolveParameters, solve

    check_output(output)
    if move_published and replan_from is None:
        fail("--move-published: only with --replan-from")
    bundle = read_bundle(bundle_file)
    problem = bundle_to_problem(bundle)
    if replan_from is not None:
        problem = replan_problem(problem, bundle, replan_from, move_published=move_published)
    if time_limit is None or workers is None:
        # Settings (pydantic-settings, the environment) only for what the command line left out.
        from matchmaking.platform.settings import get_settings

        settings = get_settings()
        time_limit = time_limit or settings.solve_time_limit_seconds
        workers = workers or settings.solve_workers
    on_terminal = sys.stderr.isatty()
    show_progress = on_terminal if progress is None else progress
    with cancel_on_interrupt() as cancel:
        parameters = SolveParameters(
            time_limit_seconds=time_limit,
            workers=workers,
            deterministic=deterministic,
            random_seed=seed,
            on_progress=progress_printer(on_terminal) if show_progress else None,
            cancel=cancel,
        )
        solution = solve(problem, parameters)
    if show_progress and on_terminal:
        sys.stderr.write("\n")
    schedule = solution_to_schedule(bundle, problem, solution)
    write_output(dump_schedule(schedule), output)
    typer.echo(summary(schedule), err=True)
    if schedule["status"] not in ("optimal", "feasible"):
        raise typer.Exit(EXIT_NOT_SOLVED)


def replan_problem(problem: Any, bundle: Bundle, path: Path, *, move_published: bool) -> Any:
    """`problem` as a re-plan of the schedule document at `path` (exit 2 when it is none)."""
    import dataclasses
    import json

    from matchmaking.bundle.problem import ScheduleFileError, published_from_schedule
    from matchmaking.planning.scheduling import goal_order

    try:
        document = json.loads(path.read_bytes())
    except OSError as error:
        fail(f"cannot read {path}: {error.strerror or error}")
    except ValueError as error:
        fail(f"{path} is not JSON: {error}")
    try:
        published = published_from_schedule(problem, document)
    except ScheduleFileError as error:
        fail(f"--replan-from {path}: {error}")
    total = len(published.meetings) + len(published.dropped)
    typer.echo(
        f"re-plan of {path}: {total} published meetings, {len(published.dropped)} of them "
        "dropped (no longer possible)"
        + "".join(f"\n  {reason}" for reason in published.dropped[:10])
        + (f"\n  … and {len(published.dropped) - 10} more" if len(published.dropped) > 10 else ""),
        err=True,
    )
    order = goal_order(
        {"objective": bundle.event.rules.objective},
        replan=True,
        move_published=move_published,
    )
    return dataclasses.replace(problem, published=published.meetings, objective=order)


@app.command("recommend-file")
def recommend_file_command(
    bundle_file: InputFile,
    output: OutputFile = None,
    top: Annotated[
        int, typer.Option("--top", min=1, max=100, help="Suggestions per participant.")
    ] = 10,
    workers: Annotated[
        int,
        typer.Option(
            "--workers", min=1, max=64, help="Processes that share the ranking (same output)."
        ),
    ] = 1,
) -> None:
    """Write, for every participant of a bundle, the partners it should meet next, best
    first, with reasons (format matchmaking-recommendations/1); no database.

    Exit 0 when written, 2 on bad input (an unreadable or invalid bundle, a bad --top).
    """
    import json

    from matchmaking.participants.recommend import recommendations_document

    check_output(output)
    bundle = read_bundle(bundle_file)
    document = recommendations_document(bundle, top, workers=workers)
    data = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    write_output(data.encode("utf-8"), output)
    count = sum(len(r["suggestions"]) for r in document["recommendations"])
    typer.echo(f"{count} suggestions for {len(document['recommendations'])} participants", err=True)


@app.command("worker")
def worker_command(
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, help="Solves run at once (processes).")
    ] = 1,
    queues: Annotated[
        str | None,
        typer.Option("--queues", "-Q", help="Comma-separated queues (default: settings)."),
    ] = None,
    hostname: Annotated[
        str | None, typer.Option("--hostname", "-n", help="Worker name (default: celery@host).")
    ] = None,
    metrics_port: Annotated[
        int | None, typer.Option("--metrics-port", help="Serve Prometheus metrics on this port.")
    ] = None,
) -> None:
    """Run a Celery solve worker (needs MATCHMAKING_BROKER_URL)."""
    from matchmaking.planning.celery_app import WorkerConfigurationError, run_worker

    names = [q.strip() for q in queues.split(",") if q.strip()] if queues is not None else None
    if names is not None and not names:
        fail("--queues: name at least one queue")
    try:
        run_worker(concurrency, names, hostname=hostname, metrics_port=metrics_port)
    except WorkerConfigurationError as error:
        fail(str(error))


# --- the database: set up, import, export, solve, serve, demo --------------------------------

db_app = typer.Typer(help="Set up and migrate the database.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """Turn database failures into one clear line and exit 1 (no traceback)."""
    from sqlalchemy.exc import OperationalError, ProgrammingError, SQLAlchemyError

    from matchmaking.platform.migrate import safe_url

    try:
        yield
    except (OperationalError, ProgrammingError) as error:
        text = str(error.orig or error).strip().splitlines()[0]
        if "no such table" in text or ("relation" in text and "does not exist" in text):
            fail(
                f"the database {safe_url(url)} has no schema yet; run `matchmaking db upgrade`",
                EXIT_NOT_SOLVED,
            )
        fail(f"cannot use the database {safe_url(url)}: {text}", EXIT_NOT_SOLVED)
    except SQLAlchemyError as error:
        fail(f"database error on {safe_url(url)}: {error}", EXIT_NOT_SOLVED)


def migrate_or_fail(url: str) -> str:
    from matchmaking.platform.migrate import MigrationsNotFound, upgrade_database

    with database_errors(url):
        try:
            return upgrade_database(url)
        except MigrationsNotFound as error:
            fail(str(error), EXIT_NOT_SOLVED)


@db_app.command("upgrade")
def db_upgrade_command() -> None:
    """Create or migrate the database (MATCHMAKING_DATABASE_URL) to the newest schema."""
    from matchmaking.platform.migrate import safe_url
    from matchmaking.platform.settings import get_settings

    url = get_settings().database_url
    revision = migrate_or_fail(url)
    typer.echo(f"database {safe_url(url)} is at revision {revision} (newest)")


@app.command("import")
def import_command(bundle_file: InputFile) -> None:
    """Store a bundle file as a new event; nothing is stored when anything is wrong."""
    from matchmaking.bundle.store import import_bundle
    from matchmaking.bundle.validate import BundleError
    from matchmaking.platform.db import session_scope
    from matchmaking.platform.settings import get_settings

    bundle = read_bundle(bundle_file)
    with database_errors(get_settings().database_url):
        try:
            with session_scope() as session:
                event = import_bundle(session, bundle)
                slug = event.slug
        except BundleError as error:
            lines = "\n".join(f"  {problem}" for problem in error.problems)
            fail(f"{bundle_file} cannot be imported:\n{lines}")
    typer.echo(
        f'imported event "{slug}": {sum(len(s.slots) for s in bundle.sessions)} slots, '
        f"{len(bundle.locations)} locations, {len(bundle.participants)} participants, "
        f"{len(bundle.wishes)} wishes"
    )


def read_sheet_file(path: Path) -> bytes:
    """The bytes of a spreadsheet file, refused (exit 2) above the size limit unread."""
    from matchmaking.bundle.sheets import MAX_FILE_BYTES, SheetError, too_large

    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise too_large()
        return path.read_bytes()
    except OSError as error:
        fail(f"cannot read {path}: {error.strerror or error}")
    except SheetError as error:
        fail(f"{path} cannot be imported:\n" + "\n".join(f"  {p}" for p in error.problems))


def sheet_summary(result: Any) -> str:
    parts = []
    for what in ("participants", "organisations", "wishes"):
        counts = result.summary[what]
        parts.append(
            f"{what} {counts['create']} new, {counts['update']} updated, "
            f"{counts['unchanged']} unchanged"
        )
    head = "checked, nothing stored (dry run)" if result.dry_run else "imported"
    return f"{head}: " + "; ".join(parts)


@app.command("import-sheet")
def import_sheet_command(
    slug: Annotated[str, typer.Argument(help="The event's slug.", show_default=False)],
    workbook: Annotated[
        Path | None,
        typer.Argument(
            help="An .xlsx workbook with the sheets participants and (optional) wishes.",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    participants: Annotated[
        Path | None,
        typer.Option("--participants", dir_okay=False, help="Participants as a CSV file."),
    ] = None,
    wishes: Annotated[
        Path | None,
        typer.Option(
            "--wishes", dir_okay=False, help="Wishes as a CSV file (with --participants)."
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and show what would change; store nothing.")
    ] = False,
) -> None:
    """Add or update an event's participants and wishes from a workbook or CSV files.

    Participants are matched by e-mail and organisations by name, so a second import updates
    rather than duplicates. A file with any bad row is refused whole (exit 2), listing every
    problem by sheet, row and column; nothing is stored.
    """
    from matchmaking.bundle.sheets import SheetError, Upload

    if (workbook is None) == (participants is None):
        fail("give either a workbook FILE.xlsx or --participants P.csv (with optional --wishes)")
    if wishes is not None and participants is None:
        fail("--wishes goes with --participants; a workbook holds its own wishes sheet")
    if workbook is not None:
        data = read_sheet_file(workbook)
        if not data.startswith(b"PK\x03\x04"):
            fail(f"{workbook} is not an XLSX workbook; for CSV files use --participants")
        upload = Upload("xlsx", data, None, workbook.name)
        source = workbook
    else:
        if participants is None:
            raise AssertionError("participants is not None")
        extra = read_sheet_file(wishes) if wishes is not None else None
        upload = Upload("csv", read_sheet_file(participants), extra, participants.name)
        source = participants
    from matchmaking.bundle.sheets import import_upload
    from matchmaking.organising.events import get_event
    from matchmaking.platform.db import session_scope
    from matchmaking.platform.errors import NotFound
    from matchmaking.platform.settings import get_settings

    with database_errors(get_settings().database_url):
        try:
            with session_scope() as session:
                event = get_event(session, slug)
                result = import_upload(session, event, upload, dry_run=dry_run)
                if dry_run:
                    session.rollback()
        except NotFound as error:
            fail(error.detail)
        except SheetError as error:
            count = len(error.problems)
            fail(
                f"{source} cannot be imported ({count} problem{'s' * (count != 1)}; "
                "nothing was stored):\n" + "\n".join(f"  {p}" for p in error.problems)
            )
    typer.echo(f'event "{slug}": {sheet_summary(result)}')


class ExportFormat(StrEnum):
    json = "json"
    csv = "csv"


class CsvContentChoice(StrEnum):
    timetable = "timetable"
    participants = "participants"


@app.command("export")
def export_command(
    slug: Annotated[str, typer.Argument(help="The event's slug.", show_default=False)],
    format: Annotated[
        ExportFormat, typer.Option("--format", "-f", help="json: the bundle; csv: a table.")
    ] = ExportFormat.json,
    content: Annotated[
        CsvContentChoice,
        typer.Option("--content", help="What the CSV lists: meetings or participants."),
    ] = CsvContentChoice.timetable,
    output: OutputFile = None,
) -> None:
    """Write an event as a bundle (JSON), or its timetable or participants as CSV.

    The CSV timetable is of the published version, or of the latest one when none is.
    """
    from matchmaking.bundle.dump import dump_bundle
    from matchmaking.bundle.store import export_bundle, participants_csv
    from matchmaking.delivery.exports import timetable_csv
    from matchmaking.organising.events import get_event
    from matchmaking.platform.db import session_scope
    from matchmaking.platform.errors import Conflict, NotFound
    from matchmaking.platform.settings import get_settings

    with database_errors(get_settings().database_url):
        try:
            with session_scope() as session:
                event = get_event(session, slug)
                if format is ExportFormat.json:
                    data = dump_bundle(export_bundle(session, event))
                elif content is CsvContentChoice.timetable:
                    data = timetable_csv(session, event)
                else:
                    data = participants_csv(session, event).encode("utf-8")
        except (NotFound, Conflict) as error:
            fail(error.detail)
    write_output(data, output)


@app.command("solve")
def solve_command(
    slug: Annotated[str, typer.Argument(help="The event's slug.", show_default=False)],
    time_limit: SolveTimeLimit = None,
    workers: SolveWorkers = None,
    replan: Annotated[
        bool,
        typer.Option("--replan", help="Start from the published version, keeping it stable."),
    ] = False,
    move_published: Annotated[
        bool,
        typer.Option(
            "--move-published",
            help="With --replan: optimise the event's goals in its own order even if "
            "published meetings move (default: they move only to meet more wishes).",
        ),
    ] = False,
    deterministic: Deterministic = False,
    progress: Annotated[
        bool | None,
        typer.Option("--progress/--no-progress", help="Progress on stderr (default: on a TTY)."),
    ] = None,
) -> None:
    """Solve a stored event in the foreground and store the result as a new version.

    Exit 0 when the version holds a schedule, 1 when the event is infeasible or no schedule
    was found in time (the version is stored all the same), 2 on bad input.
    """
    from matchmaking.organising.events import get_event
    from matchmaking.planning.scheduling import SchedulingError, solve_event
    from matchmaking.platform.db import get_sessionmaker, session_scope
    from matchmaking.platform.errors import NotFound
    from matchmaking.platform.settings import get_settings
    from solver import SolveParameters

    if move_published and not replan:
        fail("--move-published: only with --replan")
    settings = get_settings()
    on_terminal = sys.stderr.isatty()
    show_progress = on_terminal if progress is None else progress
    with database_errors(settings.database_url):
        try:
            with session_scope() as session:
                event_id = get_event(session, slug).id
            with cancel_on_interrupt() as cancel:
                parameters = SolveParameters(
                    time_limit_seconds=time_limit or settings.solve_time_limit_seconds,
                    workers=workers or settings.solve_workers,
                    deterministic=deterministic,
                    on_progress=progress_printer(on_terminal) if show_progress else None,
                    cancel=cancel,
                )
                version = solve_event(
                    get_sessionmaker(),
                    event_id,
                    parameters,
                    replan=replan,
                    move_published=move_published,
                )
        except (NotFound, SchedulingError) as error:
            fail(getattr(error, "detail", str(error)))
    if show_progress and on_terminal:
        sys.stderr.write("\n")
    typer.echo(version_summary(slug, version))
    if version.status not in ("optimal", "feasible"):
        raise typer.Exit(EXIT_NOT_SOLVED)


def version_summary(slug: str, version: Any) -> str:
    """One line on a stored version: its number, status, counts and goals."""
    from sqlalchemy import func, select

    from matchmaking.platform.db import session_scope
    from matchmaking.platform.models import Meeting

    with session_scope() as session:
        meetings = session.scalar(
            select(func.count()).select_from(Meeting).where(Meeting.version_id == version.id)
        )
    goals = ", ".join(f"{k} {v:g}" for k, v in version.objective.items())
    return (
        f'event "{slug}" version {version.number}: {version.status}, {meetings} meetings, '
        f"{len(version.unscheduled)} accepted wishes unscheduled; {goals or 'no goal values'}; "
        f"{version.solve_seconds:.1f} s"
    )


@app.command("serve")
def serve_command(
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8000,
    reload: Annotated[bool, typer.Option("--reload", help="Restart on code changes.")] = False,
    workers: Annotated[int, typer.Option("--workers", min=1, max=64, help="Server processes.")] = 1,
) -> None:
    """Serve the web app and API (migrates the database to the newest schema first)."""
    from matchmaking.platform.settings import get_settings

    migrate_or_fail(get_settings().database_url)
    run_server(host, port, reload=reload, workers=workers)


def refuse_busy_port(host: str, port: int) -> None:
    """Fail at once when the server could not listen, rather than after building a demo."""
    import socket

    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
            # As uvicorn does, so a port left in TIME_WAIT by the last run counts as free.
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as error:
        fail(f"cannot listen on {host}:{port} ({error.strerror}); choose another --port")


def run_server(host: str, port: int, *, reload: bool = False, workers: int = 1) -> None:
    import uvicorn

    from matchmaking.platform.settings import get_settings

    # uvicorn believes X-Forwarded-For/-Proto from the same proxies as the guessing limiter
    # (unset: its default, 127.0.0.1).
    trusted = get_settings().trusted_proxies.replace(" ", "") or None
    # The API is named by its import string: `matchmaking` never imports `api` itself.
    uvicorn.run(
        "api.app:create_app",
        factory=True,
        host=host,
        port=port,
        reload=reload,
        workers=None if reload else workers,
        proxy_headers=True,
        forwarded_allow_ips=trusted,
    )


@app.command("demo")
def demo_command(
    seed: Annotated[int, typer.Option("--seed", help="Same seed, same event.")] = 7,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8000,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the event when it is ready.")
    ] = True,
    time_limit: Annotated[
        float, typer.Option("--time-limit", min=0.5, max=600, help="Seconds for the solve.")
    ] = 25.0,
    database: Annotated[
        Path,
        typer.Option("--database", dir_okay=False, help="SQLite file, recreated on each run."),
    ] = Path("demo.db"),
) -> None:
    """Build a realistic EU–Canada cluster matchmaking, solve it, publish it and serve it."""
    from matchmaking.commands.demo import DemoError, run_demo

    if serve:
        refuse_busy_port(host, port)
    try:
        run_demo(
            seed=seed,
            database=database,
            time_limit=time_limit,
            host=host,
            port=port,
            say=typer.echo,
        )
    except DemoError as error:
        fail(str(error), EXIT_NOT_SOLVED)
    if serve:
        run_server(host, port)


# --- organisers: the first account, and access to events made on the command line -----------

organiser_app = typer.Typer(
    help="Organiser accounts. The first one is made here; later ones through the API too.",
    no_args_is_help=True,
)
app.add_typer(organiser_app, name="organiser")


@organiser_app.command("create")
def organiser_create_command(
    email: Annotated[str, typer.Argument(help="The organiser's e-mail address.")],
    name: Annotated[str, typer.Option("--name", help="Display name.")] = "",
) -> None:
    """Create an organiser account and print its first API token (shown only this once)."""
    from matchmaking.organising.organisers import create_organiser
    from matchmaking.platform.db import session_scope
    from matchmaking.platform.errors import DomainError
    from matchmaking.platform.settings import get_settings
    from matchmaking.platform.text import ONE_LINE_FORBIDDEN, has_visible_character

    if "@" not in email or email.strip() != email or len(email) > 254:
        fail(f'"{email}" is not an e-mail address')
    if name and (
        not has_visible_character(name) or ONE_LINE_FORBIDDEN.search(name) or len(name) > 200
    ):
        fail("--name: a name is one line of at most 200 characters with a visible character")
    with database_errors(get_settings().database_url):
        try:
            with session_scope() as session:
                organiser, _, token = create_organiser(session, email, name or email)
                shown = organiser.email
        except DomainError as error:
            fail(error.detail)
    typer.echo(f"organiser {shown} created. API token (shown only now, keep it secret):")
    typer.echo(token)


@organiser_app.command("token")
def organiser_token_command(
    email: Annotated[str, typer.Argument(help="The organiser's e-mail address.")],
    name: Annotated[str, typer.Option("--name", help="A name for the token.")] = "cli",
) -> None:
    """Issue a new API token for an existing organiser (e.g. one who lost theirs)."""
    from matchmaking.organising.organisers import find_organiser, issue_token
    from matchmaking.platform.db import session_scope
    from matchmaking.platform.settings import get_settings

    with database_errors(get_settings().database_url), session_scope() as session:
        organiser = find_organiser(session, email)
        if organiser is None:
            fail(f"there is no organiser {email}")
        _, token = issue_token(session, organiser, name)
    typer.echo(token)


@organiser_app.command("grant")
def organiser_grant_command(
    email: Annotated[str, typer.Argument(help="The organiser's e-mail address.")],
    slug: Annotated[str, typer.Argument(help="The event's slug.")],
    role: Annotated[str, typer.Option("--role", help="owner or staff.")] = "owner",
) -> None:
    """Give an organiser a role in an event (events imported here have no owner yet)."""
    from matchmaking.organising.events import get_event, grant_role
    from matchmaking.platform.db import session_scope
    from matchmaking.platform.errors import DomainError
    from matchmaking.platform.models import EventRoleName
    from matchmaking.platform.settings import get_settings

    if role not in {r.value for r in EventRoleName}:
        fail(f'role must be "owner" or "staff", not "{role}"')
    with database_errors(get_settings().database_url):
        try:
            with session_scope() as session:
                grant_role(session, get_event(session, slug), email, EventRoleName(role))
        except DomainError as error:
            fail(error.detail)
    typer.echo(f"{email} is now {role} of {slug}")


def main() -> None:  # pragma: no cover - `python -m matchmaking.commands.cli`
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
