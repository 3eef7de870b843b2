"""An XSS corpus through every field that is later shown: never unescaped on a page, in an HTML email, or live in a CSV."""
from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from tests.hardening import XSS_CORPUS, find_forms, injected_markup, local_path, populate, rules_with
from tests.web.test_fuzz_forms import (
    _pages_cache,
    check_everything_shown_is_escaped,
    encode,
    fresh_form,
    fuzz_world,  # noqa: F401,F811  (fixture)
    valid_value,
)

FREE_TEXT = {"text", "textarea", "search"}
NOT_FREE = ("email", "slug", "zone", "password", "website", "q")  # formats the form checks, the honeypot, searches
SKIP = {"admin.logout", "admin.login", "admin.privacy", "admin.privacy_erase", "admin.privacy_export"}


def payload_submissions(form, seq: int):
    """One valid submission per payload, with every free-text field carrying it (cut to the field's maxlength)."""
    for n, payload in enumerate(XSS_CORPUS):
        pairs = []
        for item in form.fields:
            if item.kind == "submit":
                continue
            value = valid_value(item, seq * 100 + n)
            if item.kind in FREE_TEXT and not any(word in item.name.lower() for word in NOT_FREE):
                value = payload if item.maxlength is None else payload[: item.maxlength]
            if item.kind == "select" and "published" in item.options:
                value = "published"  # admin content: make it public so the public pages show it
            pairs.append((item.name, value))
        yield pairs


def test_xss_corpus_through_every_displayed_field(app, fuzz_world):  # noqa: F811
    known, clients = fuzz_world
    accepted: dict[str, int] = {}
    destructive = ("cancel", "erase", "decline", "action", "moderate", "credit")  # last, so they take nothing away first
    # Public forms first: admin edits may rename the pages they live on.
    order = sorted(_pages_cache.items(), key=lambda item: (any(w in item[0] for w in destructive), item[1][1], item[0]))
    for seq, (endpoint, (page, admin)) in enumerate(order, start=1):
        if endpoint in SKIP:
            continue
        try:
            form = fresh_form(app, clients[admin], endpoint, page)
        except AssertionError:
            # Archive/delete/restore ask on a page that offers the button only while allowed: a booking made by an
            # earlier payload takes it away. They carry no text (only the CSRF token), so nothing is lost here.
            if any(word in endpoint for word in ("archive", "delete", "restore", "remove")):
                continue
            raise
        if not any(f.kind in FREE_TEXT for f in form.fields):
            continue
        for pairs in payload_submissions(form, seq):
            response = clients[admin].post(local_path(form.action), data=encode(pairs))
            assert response.status_code < 500, f"{endpoint}: {response.status_code}"
            if response.status_code in (302, 303):
                accepted[endpoint] = accepted.get(endpoint, 0) + 1
            form = fresh_form(app, clients[admin], endpoint, page, form)
    # Every public form that shows its input later took the payloads (not just refused them).
    for endpoint in ("enquiries.form", "blog.comment", "training.book", "admin.post_new", "admin.service_new"):
        if endpoint in _pages_cache:
            assert accepted.get(endpoint, 0) >= 5, f"{endpoint} accepted only {accepted.get(endpoint)}"  # seats run out
    checked = check_everything_shown_is_escaped(app, clients, known)
    assert checked > 50
    print(f"accepted: {accepted}; checked {checked} pages and emails")


def test_csv_exports_hold_no_live_formulas(app, fuzz_world):  # noqa: F811
    """Spreadsheet formula injection: a cell a client wrote must not start with = + - @ when exported."""
    from extensions import db
    from models import Booking

    known, clients = fuzz_world
    for booking in db.session.scalars(select(Booking)):
        booking.name, booking.company = "=HYPERLINK(\"http://evil.example\",\"x\")", "+cmd|' /C calc'!A0"
        booking.notes = "@SUM(1+1)*cmd|' /C calc'!A0"
    db.session.commit()
    exports = 0
    for rule in rules_with(app, "GET"):
        if not rule.rule.endswith(".csv"):
            continue
        for url in get_urls_for(rule, known):
            response = clients[True].get(url)
            if response.status_code != 200:
                continue
            assert response.mimetype == "text/csv"
            assert "attachment" in response.headers.get("Content-Disposition", "")
            for row in csv.reader(io.StringIO(response.get_data(as_text=True))):
                for cell in row:
                    assert not cell.startswith(("=", "+", "@", "\t", "\r")), f"{url}: live formula {cell!r}"
                    assert not (cell.startswith("-") and not cell[1:2].isdigit()), f"{url}: live formula {cell!r}"
            exports += 1
    assert exports, "no CSV export was reached"


def get_urls_for(rule, known):
    from tests.hardening import urls_for_rule

    return urls_for_rule(rule, known)


@pytest.mark.parametrize("payload", XSS_CORPUS)
def test_markdown_content_is_sanitised(app, payload):
    """Admin Markdown goes through nh3 at save time: nothing executable survives."""
    from web.markdown import render_markdown

    html = render_markdown(f"Intro\n\n{payload}\n\n[link]({payload})")
    assert not injected_markup(f"<div>{html}</div>"), html


def test_populate_reaches_the_forms_it_claims(app):
    populate()
    assert find_forms("<form method=post action=/x><input name=a></form>", "/")[0].field_names() == ["a"]
    assert any(r.rule.endswith(".csv") for r in rules_with(app, "GET"))
