"""Property-based fuzzing of every form the site shows, public and admin.

Forms are found, not listed: every POST rule in the URL map is a test case, and its form
is whatever <form> on a public or admin page posts to it (fields, maxlength, required,
options from the HTML). For each, hypothesis sends arbitrary text (control characters,
very long strings, non-BMP characters, HTML/SQL fragments, CR/LF, RFC 2047 encoded words
hiding CR/LF), missing and repeated
fields and wrong types, from IPv4 and IPv6 clients (public forms), and checks:
- never a 500;
- a submission the form's own HTML says is invalid (a required field empty, a value over
  maxlength, an option not offered) stores no row;
- whatever was stored is shown escaped on every public and admin page and in every HTML email,
  and every queued email serialises to bytes that pass mail/message.py's pre-send check.

Budget: HYPOTHESIS_PROFILE=fuzz (`make fuzz`, FUZZ_EXAMPLES=2000 by default) for a long run; the
default "ci" profile runs a fixed, derandomised budget: FUZZ_EXAMPLES (200) per public form with
text fields, a quarter of that per admin form, an eighth per button that posts only hidden fields.

One module (over 300 lines) because discovery, strategies and checks are one machine, which
tests/web/test_security_xss.py imports whole.
"""
from __future__ import annotations

import base64
import os
import re
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from mail.message import build_message, check_serialised
from tests.conftest import ADMIN_PASSWORD, make_app
from tests.hardening import (
    MARKER,
    PERSON_EMAIL,
    XSS_CORPUS,
    Form,
    FormField,
    find_forms,
    get_urls,
    injected_markup,
    local_path,
    pending_second_step,
    populate,
    row_counts,
    sign_in_admin,
)

PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")
TEXT_EXAMPLES = settings.get_profile(PROFILE).max_examples
ADMIN_EXAMPLES = max(25, TEXT_EXAMPLES // 4)  # the consultant's own forms: fewer, to keep CI short
BUTTON_EXAMPLES = max(10, TEXT_EXAMPLES // 8)
# Tables a refused submission may still touch, per endpoint, with the reason.
MAY_CHANGE_WHEN_REFUSED: dict[str, set[str]] = {
    "admin.login": {"audit_log"},  # failed sign-ins are recorded
    "admin.login_code": {"admin_login_failures"},  # a wrong code counts like a wrong password
}
# POST endpoints no HTML form posts to, with where they are fuzzed instead.
NO_FORM = {"payments.stripe_webhook": "Stripe's signed JSON webhook: tests/payments/test_card_payment.py fuzzes it"}


def post_endpoints() -> list[str]:
    app = make_app("sqlite://", __import__("pathlib").Path("/tmp"), OUTBOX_THREAD=False)
    endpoints = sorted({r.endpoint for r in app.url_map.iter_rules() if "POST" in (r.methods or ())})
    with app.app_context():
        from extensions import db

        db.engine.dispose()
    return endpoints


ENDPOINTS = post_endpoints()

# --- finding the forms ----------------------------------------------------------------------------


@dataclass
class Target:
    form: Form
    admin: bool

    @property
    def has_text(self) -> bool:
        return any(f.kind in TEXT_KINDS for f in self.form.fields)


TEXT_KINDS = {"text", "textarea", "email", "search", "url", "tel", "password", "number", "date", "datetime-local", "time"}
_pages_cache: dict[str, tuple[str, bool]] = {}  # endpoint -> (page that shows its form, needs admin)
_last_form: dict[str, Form] = {}
_search_answers: dict[str, list] = {}  # endpoint -> what to POST to its page to be shown the form


def endpoint_of(app, form: Form) -> str | None:
    adapter = app.url_map.bind("localhost")
    try:
        endpoint, _ = adapter.match(local_path(form.action).split("?")[0], method="POST")
    except Exception:  # noqa: BLE001  not a POST route of ours
        return None
    return endpoint


def discover(app, clients: dict[bool, object], known) -> None:
    """Walk every GET page (anonymous, then signed in) once per run and note where each POST endpoint's form is."""
    if _pages_cache:
        return
    for admin in (False, True):
        client = clients[admin]
        for url in get_urls(app, known):
            public = not url.startswith("/admin") or url.startswith("/admin/login")
            if url.startswith("/admin/logout") or public == admin:
                continue
            response = client.get(url)
            if response.status_code != 200 or response.mimetype != "text/html":
                response.close()
                continue
            for form in find_forms(response.get_data(as_text=True), url):
                if form.method != "post":
                    continue
                endpoint = endpoint_of(app, form)
                if endpoint and endpoint not in _pages_cache:
                    _pages_cache[endpoint] = (url, admin)
                    if admin and search_like(app, endpoint) and any(f.kind in ("email", "search") for f in form.fields):
                        follow_search(app, client, form, admin)


def search_like(app, endpoint: str) -> bool:
    """A form that posts back to a page it also shows (GET and POST): its answer may hold more forms."""
    rules = [r for r in app.url_map.iter_rules() if r.endpoint == endpoint]
    return any({"GET", "POST"} <= (r.methods or set()) for r in rules) and endpoint not in ("admin.login",)


def follow_search(app, client, form: Form, admin: bool) -> None:
    """Submit it once with valid values (a known person's address) and note the forms in the answer."""
    pairs = [(f.name, PERSON_EMAIL if f.kind == "email" or "email" in f.name else valid_value(f, 0))
             for f in form.fields if f.kind != "submit"]
    response = client.post(local_path(form.action), data=encode(pairs))
    if response.status_code == 200 and response.mimetype == "text/html":
        for found in find_forms(response.get_data(as_text=True), form.action):
            endpoint = endpoint_of(app, found)
            if found.method == "post" and endpoint and endpoint not in _pages_cache:
                _pages_cache[endpoint] = (form.action, admin)
                _search_answers[endpoint] = pairs


def fresh_form(app, client, endpoint: str, page: str, fallback: Form | None = None) -> Form:
    """The form as the page renders it now (fresh hidden values: spam stamps, ids)."""
    if endpoint in _search_answers:
        html = client.post(page, data=encode(_search_answers[endpoint])).get_data(as_text=True)
    else:
        html = client.get(page).get_data(as_text=True)
    forms = [f for f in find_forms(html, page) if f.method == "post" and endpoint_of(app, f) == endpoint]
    fallback = fallback or _last_form.get(endpoint)
    if not forms and fallback is not None:
        return fallback  # the fuzzing itself took it away (erased, cancelled): keep posting the last one
    assert forms, f"{page} no longer shows a form for {endpoint}"
    _last_form[endpoint] = max(forms, key=lambda f: len(f.fields))
    return _last_form[endpoint]


# --- what to send -----------------------------------------------------------------------------------

SQL = ["' OR '1'='1", "'; DROP TABLE enquiries; --", "1; SELECT pg_sleep(5)", "\" OR \"\"=\"", "%' --", "\\'; --"]
CRLF = ["a\r\nBcc: victim@example.com", "x\nSubject: injected", "\r\n\r\n<html>", "line\rbreak", "\u2028\u2029"]
# RFC 2047 encoded words, most hiding CR/LF: Python 3.11 < 3.11.10 decodes them into headers (CVE-2024-6923).
ENCODED_WORDS = [
    "=?utf-8?q?Eve=0D=0ABcc:_victim@example.com?=",
    "=?utf-8?q?x=0D=0AContent-Type:text/html=0D=0A=0D=0A<a_href=3Dhttps://evil.example>Verify</a>?=",
    "=?utf-8?b?RXZlDQpCY2M6IHZpY3RpbUBleGFtcGxlLmNvbQ==?=",  # "Eve\r\nBcc: victim@example.com"
    "=?iso-8859-1?q?=0A?=", "=?utf-8?b?DQo=?= =?utf-8?b?DQo=?=", "Eve =?utf-8?Q?=E2=80=A8Cc:_x@example.com?= Smith",
    "=?utf-8?q?" + "A" * 90 + "_Team:_mallory@evil.example;?=", "=?", "?=", "=?utf-8?x?broken?=",
]
NASTY = ["\x00", "\x1b[31m", "\ufeff", "\u202e", "\U0001f600" * 3, "\U00010348", "ｆｕｌｌ", "e\u0301", "🏳️‍🌈", "\\", "%00", "{{7*7}}"]


def encoded_word(text: str, b: bool) -> str:
    """`text` (often holding CR/LF) as one RFC 2047 word, Q or B."""
    data = text.encode("utf-8", "surrogatepass")
    if b:
        return f"=?utf-8?b?{base64.b64encode(data).decode()}?="
    return "=?utf-8?q?" + "".join(chr(c) if chr(c).isalnum() else f"={c:02X}" for c in data) + "?="


def fuzz_text():
    header_breaks = st.sampled_from(["\r\n", "\n", "\r", "\u2028", "\r\nBcc: victim@example.com", "\r\n\r\n<a href=//evil.example>x</a>"])
    return st.one_of(
        st.text(max_size=60),
        st.text(st.characters(max_codepoint=0x1F), max_size=10),
        st.text(st.characters(min_codepoint=0x10000, max_codepoint=0x10FFFF), min_size=1, max_size=20),
        st.sampled_from(XSS_CORPUS + SQL + CRLF + NASTY + ENCODED_WORDS),
        st.builds(lambda a, b: a + b, st.sampled_from(XSS_CORPUS + SQL + CRLF + ENCODED_WORDS), st.text(max_size=10)),
        st.builds(encoded_word, st.builds(lambda a, b, c: a + b + c, st.text(max_size=8), header_breaks,
                                          st.text(max_size=8)), st.booleans()),
        st.integers(min_value=1, max_value=70_000).map(lambda n: "A" * n),
    )


def valid_value(item: FormField, seq: int) -> str:
    name = item.name.lower()
    if item.kind in ("select", "radio"):
        options = [o for o in item.options if o]
        return options[0] if options else ""
    if item.kind == "checkbox":
        return item.value or "y"
    if item.kind == "hidden":
        return item.value
    if item.kind == "email" or "email" in name:
        return f"fuzz{seq}@example.com"
    if item.kind == "number" or name in ("seats", "capacity", "position", "duration_days", "price"):
        return "1"
    if item.kind == "date":
        return "2031-03-04"
    if item.kind == "datetime-local":
        return "2031-03-04T09:00"
    if item.kind == "time":
        return "09:00"
    if item.kind == "url":
        return "https://example.com/"
    if item.kind == "password":
        return ADMIN_PASSWORD
    if "slug" in name:
        return f"fuzz-{seq}"
    if "zone" in name:
        return "Europe/London"
    if name in ("website",):  # the honeypot
        return ""
    if item.kind == "textarea":
        return "A message long enough for any minimum length, about moving workloads to the cloud."
    return item.value or f"Fuzz value {seq}"


def wrong_type(item: FormField):
    return st.sampled_from(["abc", "-1", "0", "99999999999999999999", "1e308", "NaN", "2031-02-30", "25:61", "[]", "{}", "true"])


@st.composite
def submissions(draw, form: Form, seq: int):
    """A list of (name, value) pairs: each field valid, fuzzed, missing, repeated or of the wrong type."""
    pairs: list[tuple[str, str]] = []
    for item in form.fields:
        if item.kind == "submit":
            if draw(st.booleans()):
                pairs.append((item.name, item.value))
            continue
        good = valid_value(item, seq)
        if item.kind == "hidden":
            choice = draw(st.sampled_from(["valid"] * 6 + ["missing", "fuzz"]))
        else:
            choice = draw(st.sampled_from(["valid", "valid", "fuzz", "fuzz", "missing", "repeated", "wrong"]))
        if choice == "valid":
            pairs.append((item.name, good))
        elif choice == "fuzz":
            pairs.append((item.name, draw(fuzz_text())))
        elif choice == "repeated":
            pairs.append((item.name, draw(fuzz_text())))
            pairs.append((item.name, good))
        elif choice == "wrong":
            pairs.append((item.name, draw(wrong_type(item))))
    if draw(st.integers(0, 9)) == 0:
        pairs.append((draw(st.sampled_from(["id", "status", "is_admin", "_method", "csrf_token"])), draw(fuzz_text())))
    return pairs


# Where a public submission comes from: IPv4, IPv6 (a rate limit counts its /64), IPv4-mapped IPv6
# from a dual-stack socket, a link-local address with a zone id, and what a misconfigured proxy may pass.
client_addresses = st.one_of(
    st.ip_addresses(v=4).map(str),
    st.ip_addresses(v=6).map(str),
    st.ip_addresses(v=4).map(lambda ip: f"::ffff:{ip}"),
    st.sampled_from(["::1", "fe80::1%eth0", "2001:db8::1", "2001:db8:0:0:ffff::1", "unknown", ""]),
)


def clearly_invalid(form: Form, pairs: list[tuple[str, str]]) -> str | None:
    """Why the form's own HTML says this submission cannot be valid, or None."""
    first: dict[str, str] = {}
    for name, value in pairs:
        first.setdefault(name, value)
    for item in form.fields:
        value = first.get(item.name)
        text = (value or "").strip()
        # Only a field sent empty: one left out may fall back to the stored value (edit forms use obj=).
        if item.required and item.kind not in ("checkbox", "radio", "hidden") and value is not None and not text:
            return f"{item.name} is required"
        if item.maxlength is not None and value is not None and len(text) > item.maxlength:
            return f"{item.name} is over {item.maxlength}"
        if item.kind in ("select", "radio") and value is not None and value not in item.options and item.options:
            return f"{item.name} is not an offered option"
        if item.kind == "email" and text and "@" not in text:
            return f"{item.name} is not an email address"
    return None


# --- the tests --------------------------------------------------------------------------------------

def encode(pairs):
    from werkzeug.datastructures import MultiDict

    return MultiDict(pairs)


@pytest.fixture
def fuzz_world(app, admin_user):
    known = populate()
    anonymous = app.test_client()
    pending_second_step(anonymous)  # so its walk finds the sign-in's code form (tests/hardening.populate_account)
    admin = app.test_client()
    sign_in_admin(admin)
    clients = {False: anonymous, True: admin}
    discover(app, clients, known)
    return known, clients


def check_everything_shown_is_escaped(app, clients, known) -> int:
    """Walk every page (public and admin) and every HTML email; return how many were checked."""
    from extensions import db
    from models import Comment, OutboxMessage

    # Comments are shown publicly only once approved: approve everything so the payloads are on show.
    db.session.execute(Comment.__table__.update().values(status=Comment.APPROVED))
    db.session.commit()
    checked = 0
    for admin in (False, True):
        for url in get_urls(app, known):
            if url.startswith("/admin/logout"):
                continue
            response = clients[admin].get(url)
            body = response.get_data(as_text=True) if response.mimetype in ("text/html", "application/xml", "application/atom+xml") else ""
            response.close()
            if body:
                found = injected_markup(body)
                assert not found, f"{'admin' if admin else 'public'} page {url} shows input unescaped: {found}"
                checked += 1
    for message in db.session.scalars(select(OutboxMessage)):
        found = injected_markup(message.html_body or "", email=True)
        assert not found, f"email {message.template} to {message.to_addr}: {found}"
        for header in (message.subject, message.to_name, message.reply_to_name, message.to_addr, message.reply_to or ""):
            assert not re.search(r"[\r\n]", header or ""), f"CR/LF in a header of email {message.template}: {header!r}"
        try:
            built = build_message(message, app.config)
        except ValueError:
            continue  # an address that cannot be sent (e.g. a non-ASCII local part): failed for good, by design
        check_serialised(built)  # the bytes SMTP would get: only our headers, addresses and MIME parts
        checked += 1
    return checked


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_fuzz_every_form(app, fuzz_world, endpoint):
    known, clients = fuzz_world
    if endpoint in NO_FORM:
        return
    if endpoint not in _pages_cache:
        pytest.fail(f"no page shows a form that posts to {endpoint}: give it a page (or data in tests.hardening.populate)")
    page, admin = _pages_cache[endpoint]
    client = clients[admin]
    target = Target(fresh_form(app, client, endpoint, page), admin)
    if endpoint == "admin.logout":
        return  # signing out would end the fuzzing session; covered by tests/admin/test_admin_session.py
    allowed = MAY_CHANGE_WHEN_REFUSED.get(endpoint, set())
    outcomes: dict[str, int] = {}
    counter = iter(range(1, 10**9))

    budget = BUTTON_EXAMPLES if not target.has_text else ADMIN_EXAMPLES if admin and PROFILE == "ci" else TEXT_EXAMPLES

    @settings(parent=settings.get_profile(PROFILE), max_examples=budget)
    @given(data=st.data())
    def one_submission(data):
        seq = next(counter)
        form = fresh_form(app, client, endpoint, page, target.form) if seq % 25 == 0 else target.form
        pairs = data.draw(submissions(form, seq))
        # The consultant's session is bound to the address it signed in from (session_protection "strong").
        origin = {} if admin else {"REMOTE_ADDR": data.draw(client_addresses)}
        before = row_counts()
        response = client.post(local_path(form.action), data=encode(pairs), environ_base=origin)
        status = response.status_code
        response.close()
        assert status < 500, f"{endpoint} answered {status} to {pairs!r}"[:3000]
        outcomes[str(status)] = outcomes.get(str(status), 0) + 1
        reason = clearly_invalid(form, pairs)
        if reason:
            after = row_counts()
            changed = {t for t in after if after[t] != before[t]} - allowed
            assert not changed, f"{endpoint}: invalid submission ({reason}) changed {changed}: {pairs!r}"[:3000]

    one_submission()
    if endpoint != "admin.logout":
        check_everything_shown_is_escaped(app, clients, known)
    print(f"{endpoint}: {outcomes}")


def test_every_post_endpoint_was_found_with_a_form(app, fuzz_world):
    missing = [e for e in ENDPOINTS if e not in _pages_cache and e not in NO_FORM]
    assert not missing, f"POST endpoints no page posts to (so the fuzzer cannot reach them): {missing}"
    assert len(_pages_cache) >= 10


@pytest.mark.parametrize("body,content_type", [
    (b"name=\xff\xfe&email=a@example.com", "application/x-www-form-urlencoded"),
    (b"name=%ff%fe&message=%c3%28", "application/x-www-form-urlencoded"),
    (b'{"name": "x"}', "application/json"),
    (b"<xml/>", "text/xml"),
    (b"--x\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\n\xff\r\n--x--\r\n", "multipart/form-data; boundary=x"),
    (b"--broken", "multipart/form-data; boundary=x"),
    (b"name=a", "multipart/form-data"),
    (b"a=%00b", "application/x-www-form-urlencoded"),
    (b"=&&==&a", "application/x-www-form-urlencoded"),
])
def test_raw_bodies_never_give_a_500(app, fuzz_world, body, content_type):
    _, clients = fuzz_world
    # Every form first: a body posted to one endpoint may take another's form away (an empty POST
    # to admin.session_cancel cancels the session whose edit form comes next).
    endpoints = [(e, admin) for e, (page, admin) in sorted(_pages_cache.items()) if e != "admin.logout"]
    forms = {e: fresh_form(app, clients[admin], e, _pages_cache[e][0]) for e, admin in endpoints}
    for endpoint, admin in endpoints:
        form = forms[endpoint]
        before = row_counts()
        response = clients[admin].post(local_path(form.action), data=body, content_type=content_type)
        assert response.status_code < 500, f"{endpoint}: {response.status_code}"
        if response.status_code == 400:
            assert row_counts() == before, endpoint


def test_the_marker_check_can_fail():
    """The escaping check is only worth something if it sees an unescaped payload."""
    assert injected_markup(f"<p>{XSS_CORPUS[0]}</p>")
    assert injected_markup(f'<a href="{XSS_CORPUS[8]}">x</a>')
    assert injected_markup(f'<input value="{XSS_CORPUS[6]}">')
    assert not injected_markup(f"<p>{__import__('markupsafe').escape(XSS_CORPUS[6])}</p>")
    assert MARKER in XSS_CORPUS[0]
