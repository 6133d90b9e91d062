"""HTML form input: parsing, field-level errors that keep what was typed.

A form is read into a plain dict of strings (and lists for checkboxes), checked field by
field, and either turned into typed values or sent back with `errors[field] = message`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from email_validator import EmailNotValidError, validate_email
from fastapi import Depends, Request
from starlette.datastructures import FormData

from matchmaking.participants.registration import OrganisationProfile, RegistrationForm
from matchmaking.platform.models import Attendance, Event, EventMode, OrganisationKind
from matchmaking.platform.text import ONE_LINE_FORBIDDEN, has_visible_character

_COUNTRY = re.compile(r"^[A-Z]{2}$")
_URL = re.compile(r"^https?://[^\s/$.?#].[^\s]*$", re.IGNORECASE)

ORGANISATION_KINDS = [
    ("cluster", "Cluster organisation or business network"),
    ("company", "Company"),
    ("research", "Research or technology organisation"),
    ("public", "Public authority"),
    ("other", "Other"),
]


#: Checkbox groups: always lists, even with one box ticked.
LIST_FIELDS = frozenset({"focus_areas", "sessions"})


def form_values(form: FormData) -> dict[str, Any]:
    """Fields as stripped strings; checkbox groups (LIST_FIELDS) as lists of strings."""
    values: dict[str, Any] = {}
    for key in form:
        items = [v.strip() for v in form.getlist(key) if isinstance(v, str)]
        values[key] = items if key in LIST_FIELDS else (items[0] if items else "")
    return values


async def _posted_form(request: Request) -> dict[str, Any]:
    return form_values(await request.form())


async def _posted_form_data(request: Request) -> FormData:
    return await request.form()


#: A posted form's fields (`form_values`), read on the event loop, so that the page handler
#: that takes it is a plain `def`: FastAPI runs it in the thread pool, and its synchronous
#: database work (a wait for a lock, building every participant's mail) never stalls the loop.
PostedForm = Annotated[dict[str, Any], Depends(_posted_form)]
#: The same, as Starlette's `FormData` (for uploaded files, whose `.file` is read in the thread).
PostedFormData = Annotated[FormData, Depends(_posted_form_data)]


def as_list(value: Any) -> list[str]:
    if isinstance(value, list):
        return [v for v in value if v]
    return [value] if value else []


@dataclass
class Checked:
    values: dict[str, Any]
    errors: dict[str, str] = field(default_factory=dict)

    def require(self, name: str, label: str, max_length: int) -> str:
        value = str(self.values.get(name, "") or "")
        if not has_visible_character(value):
            self.errors[name] = f"Enter {label}."
        else:
            self._check_line(name, label, value, max_length)
        return value

    def optional(self, name: str, label: str, max_length: int, *, one_line: bool = True) -> str:
        value = str(self.values.get(name, "") or "")
        self._check_line(name, label, value, max_length, one_line=one_line)
        return value

    def _check_line(
        self, name: str, label: str, value: str, max_length: int, *, one_line: bool = True
    ) -> None:
        if len(value) > max_length:
            self.errors[name] = (
                f"{label.capitalize()} is too long (at most {max_length} characters)."
            )
        elif one_line and ONE_LINE_FORBIDDEN.search(value):
            self.errors[name] = f"{label.capitalize()} must be one line without control characters."


def check_registration(
    event: Event, values: dict[str, Any]
) -> tuple[RegistrationForm | None, dict[str, str]]:
    """The registration for the registration service, or the errors of each field at fault."""
    form = Checked(values)
    organisation_name = form.require("organisation_name", "your organisation's name", 300)
    kind = str(values.get("organisation_kind", ""))
    if kind not in {k for k, _ in ORGANISATION_KINDS}:
        form.errors["organisation_kind"] = "Choose what kind of organisation it is."
    country = str(values.get("country", "")).upper()
    if not _COUNTRY.match(country):
        form.errors["country"] = "Enter the two-letter country code, such as DE, CA or DK."
    sectors = [s.strip() for s in str(values.get("sectors", "")).split(",") if s.strip()]
    if len(sectors) > 20 or any(len(s) > 80 for s in sectors):
        form.errors["sectors"] = "List at most 20 sectors, each at most 80 characters."
    elif any(ONE_LINE_FORBIDDEN.search(s) or not has_visible_character(s) for s in sectors):
        form.errors["sectors"] = "Write the sectors as plain text, separated by commas."
    focus = as_list(values.get("focus_areas"))
    if any(f not in event.focus_areas for f in focus):
        form.errors["focus_areas"] = "Choose focus areas from the list."
    description = form.optional("description", "the description", 2000, one_line=False)
    website = form.optional("website", "the website", 500)
    if website and not _URL.match(website):
        form.errors["website"] = "Enter a web address starting with https:// (or leave it empty)."
    name = form.require("name", "your name", 200)
    email = _checked_email(form)
    job_title = form.optional("job_title", "the job title", 200)
    attendance = _checked_attendance(event, form)
    timezone = _checked_timezone(form)
    sessions = as_list(values.get("sessions"))
    known = {s.key for s in event.sessions}
    if not sessions or any(s not in known for s in sessions):
        form.errors["sessions"] = "Choose at least one session in which you can meet."
    if values.get("consent") != "yes":
        form.errors["consent"] = "Agree to the use of your data for the event to register."
    if form.errors:
        return None, form.errors
    profile = OrganisationProfile(
        name=organisation_name,
        kind=OrganisationKind(kind),
        country=country,
        sectors=sectors,
        focus_areas=focus,
        description=description,
        website=website,
    )
    registration = RegistrationForm(
        name=name,
        email=email,
        organisation=profile,
        job_title=job_title,
        attendance=attendance,
        timezone=timezone,
        unavailable_sessions=[s.key for s in event.sessions if s.key not in sessions],
        listed=values.get("listed") == "yes",
    )
    return registration, {}


def field_of(service_field: str | None) -> str:
    """The form field a service error names (`body.organisation.focus_areas.0` → focus_areas)."""
    if not service_field:
        return ""
    parts = service_field.removeprefix("body.").split(".")
    if parts[0] == "organisation" and len(parts) > 1:
        return "organisation_name" if parts[1] == "name" else parts[1]
    return {"unavailable_sessions": "sessions"}.get(parts[0], parts[0])


def _checked_email(form: Checked) -> str:
    email = form.require("email", "your e-mail address", 254)
    if email and "email" not in form.errors:
        try:
            email = validate_email(email, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            form.errors["email"] = f"Enter a valid e-mail address ({exc})."
    return email


def _checked_attendance(event: Event, form: Checked) -> Attendance:
    if event.mode == EventMode.onsite:
        return Attendance.onsite
    if event.mode == EventMode.online:
        return Attendance.online
    value = str(form.values.get("attendance", ""))
    if value not in {"onsite", "online"}:
        form.errors["attendance"] = "Choose whether you attend on site or online."
        return Attendance.onsite
    return Attendance(value)


def _checked_timezone(form: Checked) -> str:
    zone = str(form.values.get("timezone", ""))
    if not zone:
        return ""
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        form.errors["timezone"] = "Enter a time zone such as Europe/Berlin or America/Toronto."
    return zone


def timezone_names() -> list[str]:
    return sorted(z for z in available_timezones() if "/" in z and not z.startswith("Etc/"))
