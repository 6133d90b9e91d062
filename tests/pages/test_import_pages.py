"""The organiser's import page: upload, preview, confirm exactly what was previewed; the
cooperation profile on the directory."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from matchmaking.platform.models import Organisation, Participant, SheetUpload
from matchmaking.platform.security import hash_token, new_token
from tests.pages.conftest import Site, csrf_of

ROWS = (
    "email;name;organisation;offers;seeks;delegation\r\n"
    "ana@example.org;Ana Côté;Énergie Québec;battery recycling services;"
    "<script>alert(1)</script> partners;Canada\r\n"
    "bo@example.org;Bo Nowak;Baltic Grid;smart grid pilots;;EU\r\n"
)


def _count(site: Site) -> int:
    with site.read() as session:
        return session.scalar(select(func.count()).select_from(Participant)) or 0


def _preview(site: Site, client, data: bytes, name: str = "people.csv"):  # type: ignore[no-untyped-def]
    token = csrf_of(client, f"/organiser/e/{site.slug}/import")
    return client.post(
        f"/organiser/e/{site.slug}/import",
        data={"csrf_token": token},
        files={"file": (name, data, "text/csv")},
    )


def _hidden(page: str, name: str) -> str:
    match = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert match, name
    return match.group(1)


def test_organiser_previews_then_confirms_and_the_preview_stores_nothing(site: Site) -> None:
    client = site.client()
    site.sign_in_organiser(client)
    before = _count(site)

    preview = _preview(site, client, ROWS.encode())

    assert preview.status_code == 200, preview.text
    assert (
        '<tr id="counts-participants"><th scope="row">Participants</th><td>2</td><td>0</td>'
        in preview.text
    )
    assert "Ana Côté" in preview.text
    assert "Énergie Québec" in preview.text
    # Every scrolling box is closed: the tables after the counts are not inside theirs.
    assert preview.text.count("<div") == preview.text.count("</div>")
    assert _count(site) == before
    confirm = client.post(
        f"/organiser/e/{site.slug}/import/confirm",
        data={
            "csrf_token": _hidden(preview.text, "csrf_token"),
            "digest": _hidden(preview.text, "digest"),
            "fingerprint": _hidden(preview.text, "fingerprint"),
        },
    )
    assert confirm.status_code == 303, confirm.text
    assert _count(site) == before + 2
    dashboard = client.get(confirm.headers["location"])
    assert "Imported people.csv: 2 new and 0 updated participants" in dashboard.text
    with site.read() as session:
        ana = session.scalar(select(Organisation).where(Organisation.name == "Énergie Québec"))
        assert ana is not None
        assert ana.offers == ["battery recycling services"]
        assert ana.delegation == "Canada"
        # Confirmed uploads are not kept.
        assert session.scalar(select(func.count()).select_from(SheetUpload)) == 0
    # Confirming again finds nothing to import.
    again = client.post(
        f"/organiser/e/{site.slug}/import/confirm",
        data={"csrf_token": _hidden(preview.text, "csrf_token"),
              "digest": _hidden(preview.text, "digest"),
              "fingerprint": _hidden(preview.text, "fingerprint")},
    )  # fmt: skip
    assert again.status_code == 404


def test_a_confirmation_after_the_event_changed_shows_the_new_preview(site: Site) -> None:
    client = site.client()
    site.sign_in_organiser(client)
    preview = _preview(site, client, ROWS.encode())
    fields = {name: _hidden(preview.text, name) for name in ("csrf_token", "digest")}
    # Ana registers on her own between preview and confirmation.
    person = next(iter(site.built.participants.values()))
    person.email = "ana@example.org"
    site.session.commit()
    before = _count(site)

    stale = client.post(
        f"/organiser/e/{site.slug}/import/confirm",
        data={**fields, "fingerprint": _hidden(preview.text, "fingerprint")},
    )

    assert stale.status_code == 409
    assert "The event changed since the preview" in stale.text
    assert (
        '<tr id="counts-participants"><th scope="row">Participants</th><td>1</td><td>1</td>'
        in stale.text
    )
    assert _count(site) == before


def test_a_bad_file_shows_every_problem_by_row_and_is_not_kept(site: Site) -> None:
    client = site.client()
    site.sign_in_organiser(client)
    bad = "email,name,organisation,country\r\nnope,A,Acme,Canadia\r\n"

    page = _preview(site, client, bad.encode())

    assert page.status_code == 422
    assert "2 problems found. Nothing was stored" in page.text
    assert (
        '<td data-label="Sheet">participants</td><td data-label="Row">2</td>'
        '<td data-label="Column">country</td>' in page.text
    )
    assert page.text.count("<div") == page.text.count("</div>")  # no stray </div>
    assert "&#34;Canadia&#34; is not an ISO 3166 country code" in page.text
    with site.read() as session:
        assert session.scalar(select(func.count()).select_from(SheetUpload)) == 0


def test_only_organisers_of_the_event_reach_the_import_page(site: Site) -> None:
    anonymous = site.client()
    assert anonymous.get(f"/organiser/e/{site.slug}/import").status_code == 401
    assert anonymous.get(f"/organiser/e/{site.slug}/import/template.xlsx").status_code == 401
    token = csrf_of(anonymous, "/organiser/login")
    refused = anonymous.post(
        f"/organiser/e/{site.slug}/import",
        data={"csrf_token": token},
        files={"file": ("p.csv", ROWS.encode(), "text/csv")},
    )
    assert refused.status_code == 401
    # A participant's personal link does not open organiser pages either.
    participant = site.client()
    site.sign_in(participant, next(iter(site.built.participants)))
    assert participant.get(f"/organiser/e/{site.slug}/import").status_code == 401
    # Without the form's CSRF token nothing is read.
    organiser = site.client()
    site.sign_in_organiser(organiser)
    forged = organiser.post(
        f"/organiser/e/{site.slug}/import", files={"file": ("p.csv", ROWS.encode(), "text/csv")}
    )
    assert forged.status_code == 403


def test_the_templates_download_from_the_page(site: Site) -> None:
    client = site.client()
    site.sign_in_organiser(client)
    page = client.get(f"/organiser/e/{site.slug}/import")
    for link in ("template.xlsx", "participants.csv", "wishes.csv"):
        assert f"/organiser/e/{site.slug}/import/{link}" in page.text
        answer = client.get(f"/organiser/e/{site.slug}/import/{link}")
        assert answer.status_code == 200
        assert "attachment" in answer.headers["content-disposition"]


def test_the_directory_shows_delegation_offers_and_seeks_escaped(site: Site) -> None:
    people = list(site.built.participants.values())
    shown, viewer = people[0], people[1]
    shown.listed = True
    shown.organisation.offers = ["battery recycling services"]
    shown.organisation.seeks = ["<b>investors</b>"]
    shown.organisation.delegation = "Canada"
    site.session.commit()
    client = site.client()
    site.sign_in(client, viewer.key)

    page = client.get(f"/e/{site.slug}/directory")

    assert page.status_code == 200
    assert "<dt>Delegation</dt><dd>Canada</dd>" in page.text
    assert "<dt>Offers</dt><dd>battery recycling services</dd>" in page.text
    assert "&lt;b&gt;investors&lt;/b&gt;" in page.text
    assert "<b>investors" not in page.text
    # The agenda shows the participant's own organisation profile.
    own = site.client()
    token = new_token("mmp")
    shown.access_token_hash = hash_token(token)
    site.session.commit()
    own.get(f"/e/{site.slug}/login", params={"token": token})
    assert "<dt>Delegation</dt><dd>Canada</dd>" in own.get(f"/e/{site.slug}/me").text
