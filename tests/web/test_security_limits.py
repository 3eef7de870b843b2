"""Limits: request size, form field lengths, and a rate limit on every POST endpoint."""
from __future__ import annotations

import io

import pytest
from flask_wtf import FlaskForm
from sqlalchemy import String
from wtforms import IntegerField, StringField
from wtforms.fields.core import UnboundField
from wtforms.meta import DefaultMeta
from wtforms.validators import Length, NumberRange

from extensions import db, limiter
from tests.hardening import known_values, rules_with, urls_for_rule
from web.spam import SpamTrapFields

# POST endpoints that may go without a rate limit, each with its reason. Keep it short.
RATE_LIMIT_EXEMPT: dict[str, str] = {}


# --- request size ----------------------------------------------------------------------------

def test_a_body_over_max_content_length_gets_the_413_page(app, client):
    limit = app.config["MAX_CONTENT_LENGTH"]
    assert 0 < limit <= 1024 * 1024
    for url in ("/contact", "/admin/login", "/", "/no/such/page"):
        response = client.post(url, data={"message": "x" * (limit + 1)})
        assert response.status_code == 413, url
        assert "Too large" in response.get_data(as_text=True)


def test_a_form_with_too_many_parts_gets_413(app, client):
    fields = {f"f{n}": "x" for n in range(app.config["MAX_FORM_PARTS"] + 5)}
    for rule in rules_with(app, "POST") or []:
        for url in urls_for_rule(rule, known_values())[:1]:
            response = client.post(url, data=fields, content_type="multipart/form-data")
            if response.status_code in (302, 303):  # the admin guard redirects before any form is parsed
                assert response.headers["Location"].startswith("/admin/login"), url
            else:
                assert response.status_code in (400, 404, 413), url


def test_a_lying_content_length_is_refused_before_the_body_is_read(client):
    response = client.post("/contact", data="x", content_type="application/x-www-form-urlencoded",
                           environ_overrides={"CONTENT_LENGTH": str(10 * 1024 * 1024)})
    assert response.status_code == 413


def chunked_post(client, url: str, body: bytes, **kwargs):
    """What gunicorn and Werkzeug's server hand the app for `Transfer-Encoding: chunked`: no length, a terminated stream."""
    return client.post(url, input_stream=io.BytesIO(body), content_type="application/x-www-form-urlencoded",
                       headers={"Transfer-Encoding": "chunked"}, environ_overrides={"wsgi.input_terminated": True},
                       **kwargs)


def test_a_chunked_body_over_the_limit_gets_413_not_a_cut_off_form(app, client):
    limit = app.config["MAX_CONTENT_LENGTH"]
    body = "name=Zoë&email=zoe%40example.com&message=".encode() + b"x" * limit
    for url in ("/contact", "/admin/login", "/no/such/page"):
        assert chunked_post(client, url, body).status_code == 413, url


def test_a_chunked_body_within_the_limit_is_read_whole(app, client):
    body = "message=" + "é" * 100  # not percent-encoded: refused as not UTF-8 form data if cut or mangled
    response = chunked_post(client, "/contact", body.encode())
    assert response.status_code not in (413, 500)


@pytest.mark.parametrize("url", ["/contact", "/admin/login", "/blog/no-such-post"])
def test_a_file_part_on_a_form_without_uploads_is_400(client, url):
    response = client.post(url, data={"name": "Zoë", "attachment": (io.BytesIO(b"MZ\x90\x00"), "évil.exe")},
                           content_type="multipart/form-data")
    assert response.status_code == 400


# --- form field lengths -----------------------------------------------------------------------

def all_form_classes() -> list[type[FlaskForm]]:
    found, todo = [], list(FlaskForm.__subclasses__())
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return [cls for cls in found if cls.__module__.startswith("blueprints.")]


def string_columns() -> dict[str, list[int]]:
    """Column name -> lengths of every String(n) column with that name in any model."""
    columns: dict[str, list[int]] = {}
    for table in db.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, String) and column.type.length:
                columns.setdefault(column.name, []).append(column.type.length)
    return columns


def unbound_fields(cls) -> list:
    """The form's fields, bound without instantiating the form (some forms need constructor arguments)."""
    fields = []
    for name in dir(cls):
        attr = getattr(cls, name, None)
        if isinstance(attr, UnboundField):
            field = attr.bind(form=None, name=name, _meta=DefaultMeta())
            field.process(None)
            fields.append(field)
    return fields


def length_max(field) -> int | None:
    maxes = [v.max for v in field.validators if isinstance(v, Length) and v.max not in (None, -1)]
    return min(maxes) if maxes else None


def test_every_text_field_has_a_server_side_maximum_that_fits_its_column(app):
    columns = string_columns()
    checked = 0
    with app.test_request_context():
        for cls in all_form_classes():
            for field in unbound_fields(cls):
                if not isinstance(field, StringField):  # includes TextAreaField, EmailField, …
                    continue
                if field.type in ("HiddenField", "CSRFTokenField"):
                    continue
                if issubclass(cls, SpamTrapFields) and field.name in vars(SpamTrapFields):
                    continue  # the honeypot: any value at all marks spam, and it is never stored
                where = f"{cls.__module__}.{cls.__name__}.{field.name}"
                maximum = length_max(field)
                assert maximum is not None, f"{where} has no Length(max=…): the server accepts any length"
                assert maximum <= 200_000, f"{where} accepts {maximum} characters"
                if field.name in columns:
                    assert maximum <= max(columns[field.name]), f"{where}: max {maximum} > column {columns[field.name]}"
                rendered = str(field())
                assert f'maxlength="{maximum}"' in rendered, f"{where}: the browser is not told the maximum"
                checked += 1
    assert checked >= 40, f"only {checked} text fields found: are the forms still discovered?"


# --- whole numbers and page numbers -----------------------------------------------------------

HUGE_NUMBERS = ["100000000000000000000", "-100000000000000000000", "1e20", "2147483648", "9" * 400]


def test_every_whole_number_field_has_bounds_the_database_can_store(app):
    from blueprints.forms import INT_MAX, WholeNumber

    checked = 0
    with app.test_request_context():
        for cls in all_form_classes():
            for field in unbound_fields(cls):
                if not isinstance(field, IntegerField):
                    continue
                where = f"{cls.__module__}.{cls.__name__}.{field.name}"
                ranges = [v for v in field.validators if isinstance(v, NumberRange)]
                assert ranges, f"{where} has no NumberRange: 1e20 reaches the database (a 500)"
                assert all(isinstance(r, WholeNumber) for r in ranges), f"{where}: NumberRange raises on 400 digits"
                assert all(r.min is not None and r.max is not None for r in ranges), where
                assert -INT_MAX <= max(r.min for r in ranges) <= min(r.max for r in ranges) <= INT_MAX, where
                checked += 1
    assert checked >= 7, f"only {checked} whole-number fields found"


@pytest.mark.parametrize("huge", HUGE_NUMBERS)
def test_a_huge_number_in_any_form_is_a_form_error(admin_client, client, huge):
    from models import Course, Enquiry, Service, TrainingSession
    from tests.factories import make_course, make_session
    from web.spam import issue_form_token

    course, session = make_course(), make_session()
    posts = [
        (admin_client, "/admin/courses/new", {"title": "Kubernetes für alle", "slug": "k8s-alle", "duration_days": "2",
                                              "level": "Beginner", "price": huge, "position": "1"}, Course),
        (admin_client, "/admin/courses/new", {"title": "Kubernetes für alle", "slug": "k8s-alle", "duration_days": "2",
                                              "level": "Beginner", "price": "10", "position": huge}, Course),
        (admin_client, f"/admin/courses/{course.id}", {"title": course.title, "slug": course.slug, "duration_days": huge,
                                                       "level": "Beginner"}, Course),
        (admin_client, "/admin/services/new", {"title": "Réseaux", "slug": "reseaux", "cta": "contact", "position": huge},
         Service),
        (admin_client, "/admin/sessions/new", {"course_id": str(course.id), "starts_at": "2031-03-02T09:00",
                                               "ends_at": "2031-03-02T17:00", "timezone": "Europe/Paris", "mode": "online",
                                               "capacity": huge}, TrainingSession),
        (client, f"/training/sessions/{session.id}/book", {"name": "Zoë", "email": "zoe@example.com", "seats": huge,
                                                          "consent": "y", "action": "book",
                                                          "form_token": issue_form_token("booking")}, None),
        (client, f"/training/{course.slug}", {"private-name": "Bo", "private-email": "bo@example.com",
                                              "private-preferred_dates": "March", "private-attendees": huge,
                                              "private-training_format": "online", "private-consent": "y",
                                              "private-form_token": issue_form_token("private_training")}, Enquiry),
    ]
    for who, url, data, model in posts:
        before = db.session.scalar(db.select(db.func.count()).select_from(model)) if model else None
        response = who.post(url, data=data)
        assert response.status_code == 422, f"{url} {data}: {response.status_code}"
        assert 'class="field-error"' in response.text or "error" in response.text.lower()
        if model:
            db.session.rollback()
            assert db.session.scalar(db.select(db.func.count()).select_from(model)) == before, url


@pytest.mark.parametrize("page", ["99999999999999999999", "-99999999999999999999", "1e20", "2147483648", "0x10"])
def test_a_huge_page_number_is_an_empty_page_or_404_never_a_500(admin_client, client, page):
    for who, url in ((admin_client, "/admin/enquiries"), (admin_client, "/admin/audit"), (admin_client, "/admin/outbox"),
                     (admin_client, "/admin/comments"), (admin_client, "/admin/sessions"), (client, "/blog")):
        response = who.get(f"{url}?page={page}")
        assert response.status_code in (200, 404), f"{url}?page={page}: {response.status_code}"


# --- rate limits --------------------------------------------------------------------------------

def post_limits(app, rule) -> list:
    """The Flask-Limiter limits that apply to a POST to this rule (decorated, blueprint, default, application)."""
    manager = limiter.limit_manager
    blueprint = rule.endpoint.rpartition(".")[0] or None
    with app.test_request_context(method="POST"):
        resolved, decorated = manager.resolve_limits(app, rule.endpoint, blueprint)
        every = [*resolved, *decorated, *manager.application_limits]
    return [limit for limit in every if limit.methods is None or "post" in limit.methods]


def test_every_post_endpoint_has_a_rate_limit(app):
    missing = []
    for rule in rules_with(app, "POST"):
        if rule.endpoint in RATE_LIMIT_EXEMPT:
            continue
        if not post_limits(app, rule):
            missing.append(f"{rule.rule} ({rule.endpoint})")
    assert not missing, "POST endpoints without a rate limit (add @limiter.limit or a reason in RATE_LIMIT_EXEMPT): " + ", ".join(missing)
    assert set(RATE_LIMIT_EXEMPT) <= {r.endpoint for r in rules_with(app, "POST")}, "stale exemptions"


@pytest.fixture
def limited_app(database_url, tmp_path, postgres):
    from tests.conftest import running_app

    yield from running_app(database_url, tmp_path, {"RATELIMIT_ENABLED": True}, postgres)


def test_every_small_post_limit_really_answers_429(limited_app):
    """The limits found above are enforced: hammer each POST endpoint past its smallest limit."""
    from tests.factories import make_admin

    app, client = limited_app, limited_app.test_client()
    make_admin(email="limits@example.com", password="limits password 123")
    known = known_values()
    hammered = 0
    for rule in rules_with(app, "POST"):
        limits = post_limits(app, rule)
        if not limits:
            continue
        smallest = min(limit.limit.amount for limit in limits)
        if smallest > 40:  # admin actions: too slow to hammer here; covered by the registry check
            continue
        url = urls_for_rule(rule, known)[0]
        codes = [client.post(url, data={}).status_code for _ in range(smallest + 1)]
        assert 429 in codes, f"{url}: {smallest} allowed but {smallest + 1} POSTs gave {codes}"
        assert 500 not in codes
        hammered += 1
    print(f"hammered {hammered} POST endpoints")


def test_signed_in_editing_may_send_more_than_the_public_limit(app, client, admin_client):
    public, admin = app.config["MAX_CONTENT_LENGTH"], app.config["ADMIN_MAX_CONTENT_LENGTH"]
    article = {"body": "x" * (public * 2)}
    assert public * 2 < admin
    assert client.post("/admin/login", data=article).status_code == 413  # anonymous: the public limit
    assert admin_client.post("/admin/", data=article).status_code == 405  # read past the public limit
    assert admin_client.post("/admin/", data={"body": "x" * (admin + 1)}).status_code == 413


@pytest.mark.parametrize("same, other", [
    (["2001:db8:aa:1::1", "2001:db8:aa:1:ffff:ffff:ffff:fffe", "2001:DB8:AA:1:0:0:0:7"], "2001:db8:aa:2::1"),
    (["203.0.113.7", "::ffff:203.0.113.7"], "203.0.113.8"),  # IPv4 stays per address, mapped or not
])
def test_rate_limits_count_an_ipv6_64_as_one_client(limited_app, same, other):
    client = limited_app.test_client()
    codes = [client.post("/contact", data={}, environ_base={"REMOTE_ADDR": same[n % len(same)]}).status_code
             for n in range(6)]
    assert codes[:5].count(429) == 0 and codes[5] == 429, codes  # "5/minute" shared by every address of the /64
    assert client.post("/contact", data={}, environ_base={"REMOTE_ADDR": other}).status_code != 429
