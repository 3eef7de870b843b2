"""Machinery for the security and fuzz tests: walk the URL map, find forms, spot injected markup.

Everything here discovers the app as it is (routes from `app.url_map`, forms from the
pages' HTML), so a route or form added later is covered without editing these tests.
"""
from __future__ import annotations

import itertools
import json
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

from sqlalchemy import func, select

MARKER = "xq7zk"  # appears only in what the tests inject, so any hit is ours

# Payloads that would run script or leave the attribute/element they were put in if printed raw.
XSS_CORPUS = [
    f"<script>alert('{MARKER}')</script>",
    f"<img src=x onerror=alert('{MARKER}')>",
    f"<svg onload=alert('{MARKER}')>",
    f"<svg><script>alert('{MARKER}')</script></svg>",
    f'"><script>{MARKER}</script>',
    f"'><img src=x onerror={MARKER}>",
    f'" onmouseover="alert(\'{MARKER}\')" x="',
    f"' onfocus='alert({MARKER})' autofocus x='",
    f"javascript:alert('{MARKER}')",
    f"JaVaScRiPt:alert('{MARKER}')",
    f"[click](javascript:alert('{MARKER}'))",
    f"<a href=\"javascript:alert('{MARKER}')\">{MARKER}</a>",
    f"<iframe src=\"javascript:alert('{MARKER}')\"></iframe>",
    f"<math><mtext><table><mglyph><style><img src=x onerror={MARKER}>",
    f"</textarea><script>{MARKER}</script>",
    f"</title><script>{MARKER}</script>",
    f"<body onload={MARKER}>",
    f"<object data=\"data:text/html,{MARKER}\"></object>",
    f"<details open ontoggle={MARKER}>",
    f"{{{{ 7*7 }}}}{MARKER}{{% print('x') %}}",  # template injection, must come back literally
]

DANGEROUS_TAGS = {"script", "iframe", "object", "embed", "svg", "math", "base", "frame", "frameset", "applet", "style"}
URL_ATTRIBUTES = {"href", "src", "action", "formaction", "xlink:href", "data", "poster", "srcset"}


@dataclass
class FormField:
    name: str
    kind: str  # input type, "textarea" or "select"
    value: str = ""
    options: list[str] = field(default_factory=list)
    maxlength: int | None = None
    required: bool = False


@dataclass
class Form:
    action: str
    method: str
    page: str
    fields: list[FormField] = field(default_factory=list)

    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]


class _PageParser(HTMLParser):
    """Collects forms, and every tag and attribute, from one page."""

    def __init__(self, page: str) -> None:
        super().__init__(convert_charrefs=True)
        self.page = page
        self.forms: list[Form] = []
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.script_bodies: list[str] = []
        self._form: Form | None = None
        self._select: FormField | None = None
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, attrs))
        a = {k: (v or "") for k, v in attrs}
        if tag == "script":
            self._in_script = True
            self.script_bodies.append((a.get("type") or "").lower())
        if tag == "form":
            self._form = Form(action=a.get("action") or self.page, method=(a.get("method") or "get").lower(), page=self.page)
            self.forms.append(self._form)
        elif self._form is not None and tag in ("input", "textarea", "select", "button") and a.get("name"):
            kind = {"textarea": "textarea", "select": "select"}.get(tag, a.get("type", "text").lower())
            if tag == "button":
                kind = "submit"
            if kind in ("checkbox", "radio") and not a.get("value"):
                a["value"] = "on"
            maxlength = int(a["maxlength"]) if a.get("maxlength", "").isdigit() else None
            item = FormField(a["name"], kind, a.get("value", ""), maxlength=maxlength, required="required" in a)
            if kind == "radio":
                existing = next((f for f in self._form.fields if f.name == item.name), None)
                if existing:
                    existing.options.append(item.value)
                    return
                item.options.append(item.value)
            self._form.fields.append(item)
            if tag == "select":
                self._select = item
        elif tag == "option" and self._select is not None:
            self._select.options.append(a.get("value", ""))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag == "script":
            self._in_script = False

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.script_bodies[-1] += "\n" + data  # first line: the script's type


def parse_page(html: str, page: str = "/") -> _PageParser:
    parser = _PageParser(page)
    parser.feed(html)
    parser.close()
    return parser


def find_forms(html: str, page: str) -> list[Form]:
    return parse_page(html, page).forms


# Inline SVG the site draws itself; an injected <svg> (the corpus has several) has neither the class nor the role.
SITE_SVG_CLASSES = {"chart-svg", "qr-code"}


def injected_markup(html: str, marker: str = MARKER, *, email: bool = False) -> list[str]:
    """What in this HTML could only be there because input was printed unescaped.

    The site itself has no inline script, no event-handler attributes, no javascript: URLs,
    no style attributes and no svg (but its own charts and QR code)/iframe/object elements (the CSP forbids most of these
    anyway), so any of those is a finding; so is any tag or attribute *name* carrying the
    marker. HTML emails are held to the same rules except that they style inline.
    """
    parser = parse_page(html)
    found = []
    dangerous = DANGEROUS_TAGS - {"style"} if email else DANGEROUS_TAGS
    for tag, attrs in parser.tags:
        a = {k: (v or "") for k, v in attrs}
        if tag == "script" and (a.get("src", "").startswith("/static/") or a.get("type", "").lower() == "application/ld+json"):
            pass  # our own script file, or structured data (not executed; checked below)
        elif tag == "svg" and set(a.get("class", "").split()) & SITE_SVG_CLASSES and a.get("role") == "img":
            pass  # the site's own server-drawn figures (statistics charts, the two-factor QR code)
        elif tag in dangerous:
            found.append(f"<{tag}> element")
        if marker in tag:
            found.append(f"tag name {tag!r}")
        for name, value in attrs:
            value = value or ""
            if name.startswith("on"):
                found.append(f"<{tag} {name}=...> event handler")
            if marker in name:
                found.append(f"attribute name {name!r} on <{tag}>")
            if name in URL_ATTRIBUTES and re.sub(r"[\s\x00-\x1f]", "", value).lower().startswith(("javascript:", "vbscript:", "data:text")):
                found.append(f"<{tag} {name}={value[:40]!r}> script URL")
            if name == "style" and not email:
                found.append(f"<{tag} style=...> attribute")
            if name == "style" and marker in value:
                found.append(f"marker inside <{tag} style>")
    for script in parser.script_bodies:
        kind, _, body = script.partition("\n")
        if kind == "application/ld+json":
            if "<" in body:
                found.append("raw '<' inside JSON-LD (tojson escapes it; a </script> would break out)")
            try:
                json.loads(body)
            except ValueError:
                found.append("JSON-LD that is not JSON")
        elif marker in body:
            found.append("marker inside a script body")
    return found


# --- walking the URL map -----------------------------------------------------------------

DUMMY = {"int": ["1", "987654"], "default": ["no-such-thing"], "path": ["css/site.css", "no/such/file.txt"]}


def converter_kind(rule, argument: str) -> str:
    from werkzeug.routing import IntegerConverter, PathConverter

    converter = rule._converters[argument]
    if isinstance(converter, IntegerConverter):
        return "int"
    if isinstance(converter, PathConverter):
        return "path"
    return "default"


def urls_for_rule(rule, known: dict[str, list[str]], limit: int = 10) -> list[str]:
    """Concrete URLs for a rule: known real values for its arguments (by name) plus dummies."""
    arguments = sorted(rule.arguments)
    choices = []
    for argument in arguments:
        kind = converter_kind(rule, argument)
        values = list(dict.fromkeys([*known.get(argument, []), *DUMMY[kind]]))
        choices.append(values)
    urls = []
    for combo in itertools.islice(itertools.product(*choices), limit):
        values = dict(zip(arguments, combo, strict=True))
        try:
            _, path = rule.build(values, append_unknown=False)
        except Exception:  # noqa: BLE001  a value that does not fit the converter
            continue
        urls.append(path.split("|", 1)[-1])
    return list(dict.fromkeys(urls))


def rules_with(app, method: str):
    return [r for r in app.url_map.iter_rules() if method in (r.methods or ())]


def get_urls(app, known: dict[str, list[str]]) -> list[str]:
    return [url for rule in rules_with(app, "GET") for url in urls_for_rule(rule, known)]


def known_values() -> dict[str, list[str]]:
    """Real values for URL arguments, from whatever rows exist (slugs, ids, filenames)."""
    from extensions import db
    from models import Course, Post, Service, Tag

    slugs = []
    for model in (Service, Post, Course):  # not archived ones: their pages answer 410, with no forms
        slugs += db.session.scalars(select(model.slug).where(model.archived_at.is_(None)).limit(3)).all()
    tags = db.session.scalars(select(Tag.slug).limit(3)).all()
    known = {"slug": slugs, "tag": tags, "id": ["1", "2"], "filename": ["css/site.css", "favicon.ico"]}
    # `<int:enquiry_id>`, `<int:message_id>`…: real ids of the rows of every table whose name fits.
    for table in db.metadata.sorted_tables:
        if "id" not in table.columns:
            continue
        ids = [str(i) for i in db.session.scalars(select(table.c.id).order_by(table.c.id).limit(4))]
        for word in table.name.split("_"):
            stem = word[:-3] + "y" if word.endswith("ies") else word.rstrip("s")
            known.setdefault(f"{stem}_id", [])
            known[f"{stem}_id"] = list(dict.fromkeys(known[f"{stem}_id"] + ids))
    return known


def row_counts() -> dict[str, int]:
    from extensions import db

    counts = {}
    for table in db.metadata.sorted_tables:
        counts[table.name] = db.session.execute(select(func.count()).select_from(table)).scalar_one()
    return counts


def local_path(url: str) -> str:
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


BOOKING_TOKEN = "tok-" + "a" * 40
PERSON_EMAIL = "person@example.com"


def populate() -> dict[str, list[str]]:
    """Rows of every kind, so walks reach real pages and forms, not only 404s; returns real URL values."""
    from datetime import UTC, datetime, timedelta

    from cli.seeding import seed_all
    from extensions import db
    from models import Comment, Enquiry, OutboxMessage
    from tests.factories import make_booking, make_enquiry, make_post, make_session, make_tag

    seed_all(demo=True)
    tag = make_tag("Security")
    post = make_post(slug="hardening-notes", tags=[tag])
    db.session.add(Comment(post=post, author_name="Reader", author_email="r@example.com", body="Nice.", status=Comment.APPROVED))
    db.session.add(Comment(post=post, author_name="Pending", author_email="p@example.com", body="Hmm.", status=Comment.PENDING))
    make_enquiry(email=PERSON_EMAIL)
    make_enquiry(status=Enquiry.SPAM, spam_reason="honeypot")
    make_enquiry(status=Enquiry.HELD, spam_reason="submitted too fast")  # its Release button
    make_enquiry(kind=Enquiry.PRIVATE_TRAINING, topic="docker", preferred_dates="March", training_format="online")
    from models import Course

    course = db.session.scalar(select(Course).order_by(Course.position).limit(1))  # a seeded one: stable URLs
    session = make_session(course=course)
    make_session(course=session.course, starts_at=session.starts_at + timedelta(days=7))  # somewhere to move to
    booking = make_booking(session, token=BOOKING_TOKEN)
    db.session.add(OutboxMessage(message_id="<x@portico.example>", to_addr="a@example.com", subject="Hi",
                                 text_body="Hi", html_body="<p>Hi</p>", related=f"booking:{booking.id}",
                                 next_attempt_at=datetime.now(UTC)))
    db.session.add(OutboxMessage(message_id="<y@portico.example>", to_addr="b@example.com", subject="Failed",
                                 text_body="Hi", html_body="<p>Hi</p>", status=OutboxMessage.FAILED, attempts=8,
                                 last_error="550 no such user", next_attempt_at=datetime.now(UTC)))
    db.session.commit()
    populate_invoices()
    populate_invoices_extra()
    populate_archive()
    populate_cases()
    aftercare = populate_aftercare()
    known = known_values()
    known["token"] = [BOOKING_TOKEN, PRICED_BOOKING_TOKEN, *aftercare.pop("token")]
    for key, values in aftercare.items():  # ids beyond the first few a table's rows give (known_values)
        known[key] = list(dict.fromkeys([*values, *known.get(key, [])]))
    known.update({key: values + known.get(key, []) for key, values in populate_private().items()})
    populate_account(known)
    return known


PRICED_BOOKING_TOKEN = "tok-" + "p" * 40


def populate_invoices() -> None:
    """Business details, an issued invoice (its payment and credit forms), and a priced pending booking with card
    payment on (its "pay by card" form; Stripe is a closed port on loopback, so a payment attempt fails fast)."""
    from decimal import Decimal

    from flask import current_app

    from blueprints.training import operations as ops
    from extensions import db
    from models import BusinessDetails
    from tests.factories import make_booking, make_course, make_session

    current_app.config.update(STRIPE_SECRET_KEY="sk_test_fuzz", STRIPE_WEBHOOK_SECRET="whsec_fuzz",
                              STRIPE_API_BASE="http://127.0.0.1:9")
    db.session.add(BusinessDetails(id=1, legal_name="Fuzz GmbH", address="Straße 1\n10115 Berlin", country="DE",
                                   vat_id="DE136695976", iban="DE89370400440532013000", bic="COBADEFFXXX",
                                   default_tax_rate=Decimal("19")))
    db.session.commit()
    session = make_session(course=make_course(slug="priced-fuzz", title="Priced", price=300, currency="EUR"))
    invoiced = make_booking(session, billing_address="Rue 1\nParis", vat_id="FR40303265045")
    ops.confirm_booking(invoiced, None)
    db.session.commit()
    make_booking(session, token=PRICED_BOOKING_TOKEN, billing_address="Gata 1\nOslo")


def populate_invoices_extra() -> None:
    """A confirmed priced booking with no invoice (stored as confirmed before the course had a price, say): its
    "Issue invoice now" button on the session page. On one of the first sessions, as the walk visits those."""
    from extensions import db
    from models import Booking, Course, TrainingSession
    from tests.factories import make_booking

    sessions = db.session.scalars(select(TrainingSession).order_by(TrainingSession.id).limit(4)).all()
    # Not the first course's session: the booking form the XSS corpus posts to stays free (a priced course with card
    # payment on sends the booking to Stripe, which is a closed port here).
    first = db.session.scalar(select(Course).order_by(Course.position).limit(1))
    session = next((s for s in sessions if s.course.price and s.course_id != first.id),
                   next(s for s in reversed(sessions) if s.course_id != first.id))
    if not session.course.price:
        session.course.price = 250
        db.session.commit()
    make_booking(session, status=Booking.CONFIRMED, billing_address="Via Roma 1\nMilano")


# The consultant's authenticator secret once populate_account() has turned two-factor sign-in on.
ADMIN_TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
INVITE_TOKEN = "invite-" + "i" * 40


def populate_account(known: dict[str, list[str]]) -> None:
    """Two-factor sign-in on for the consultant, with a new app being set up (so the confirm, disable, recovery
    codes and start-again forms all show), a second admin to remove, and that admin's invitation link (its
    set-password form). Sign in with sign_in_admin(); pending_second_step() gives a client the code form."""
    from datetime import timedelta

    from extensions import db
    from models import AdminToken, AdminUser, RecoveryCode, utcnow
    from models.account import token_hash
    from tests.conftest import ADMIN_EMAIL

    owner = db.session.scalar(select(AdminUser).where(AdminUser.email == ADMIN_EMAIL))
    if owner is None:
        return
    owner.totp_secret, owner.totp_enabled_at = ADMIN_TOTP_SECRET, utcnow()
    owner.totp_pending_secret = "KRSXG5CTMVRXEZLUKRSXG5CTMVRXEZLU"
    RecoveryCode.replace_all(owner)
    second = AdminUser(email="second-admin@example.com", invited_by_id=owner.id)
    second.set_unusable_password()
    db.session.add(second)
    db.session.flush()
    db.session.add(AdminToken(user_id=second.id, purpose=AdminToken.INVITE, token_hash=token_hash(INVITE_TOKEN),
                              expires_at=utcnow() + timedelta(days=3)))
    db.session.commit()
    known.setdefault("user_id", []).insert(0, str(second.id))
    known["token"].append(INVITE_TOKEN)


def sign_in_admin(client) -> None:
    """Sign the consultant in, with the code step when two-factor sign-in is on."""
    import pyotp

    from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

    response = client.post("/admin/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})
    assert response.status_code in (302, 303), response.status_code
    if response.headers["Location"].endswith("/admin/login/code"):
        response = client.post("/admin/login/code", data={"code": pyotp.TOTP(ADMIN_TOTP_SECRET).now()})
        assert response.status_code == 303 and not response.headers["Location"].endswith("/login"), "code refused"


def pending_second_step(client) -> None:
    """The password typed, the code still to come: the state in which the code form shows."""
    from tests.conftest import ADMIN_EMAIL, ADMIN_PASSWORD

    client.post("/admin/login", data={"email": ADMIN_EMAIL, "password": ADMIN_PASSWORD})

def populate_archive() -> None:
    """An archived row of each kind: their Restore and Delete forms on the Archived lists."""
    from datetime import UTC, datetime

    from extensions import db
    from models import Comment
    from tests.factories import make_course, make_enquiry, make_post, make_service, make_session

    now = datetime.now(UTC)
    post = make_post(slug="archived-post", title="Archivé", archived_at=now)
    db.session.add(Comment(post=post, author_name="Zoë", author_email="zoe@example.com", body="Archivé aussi",
                           status=Comment.APPROVED, archived_at=now))
    make_service(slug="archived-service", title="Archived service", archived_at=now)
    course = make_course(slug="archived-course", title="Archived course", archived_at=now)
    make_session(course=course, archived_at=now)
    make_enquiry(name="Ærchived Person", email="archived@example.com", archived_at=now)

def populate_cases() -> None:
    """A published and a draft case study (their editors, Publish/Unpublish and image forms), and an uploaded image on
    a post, a service, a course and the case study (the "Stop showing this image" buttons; the image pages' upload forms)."""
    import io

    from PIL import Image
    from sqlalchemy import select

    from extensions import db
    from models import Course, MediaFile, Post, Service
    from models.media import prepare_upload
    from tests.factories import make_case_study

    service = db.session.scalar(select(Service).order_by(Service.position).limit(1))
    case = make_case_study(slug="fuzz-case", title="Réseau pour un opérateur", client="un opérateur télécom",
                    services=[service] if service else [], quote="Très bien.", quote_by="Responsable réseau")
    make_case_study(slug="fuzz-draft", title="Entwurf", published=False)
    out = io.BytesIO()
    Image.new("RGB", (600, 400), (30, 90, 160)).save(out, "JPEG")
    media = MediaFile.from_upload(prepare_upload(out.getvalue(), max_bytes=10 ** 7, max_pixels=10 ** 7),
                                  alt="Diagramm", decorative=False, used_for="")
    for model in (Post, Service, Course):
        item = db.session.scalar(select(model).order_by(model.id).limit(1))
        if item is not None:
            item.image = media
    case.image = media
    db.session.commit()

def populate_private() -> dict[str, list[str]]:
    """A private course: a request with two proposed dates (one chosen: its live booking link, its joining details and
    days, its attendee form; the other withdrawn) and a second request with an open proposal. Returns the URL values
    that reach their pages (tokens, the session and enquiry ids), first in line."""
    from datetime import UTC, datetime, timedelta

    from blueprints.training import private
    from extensions import db
    from models import Course, Enquiry, TrainingSession
    from tests.factories import make_admin, make_enquiry

    course = db.session.scalar(select(Course).order_by(Course.position).limit(1))
    admin = make_admin(email="private-fuzz@example.com")
    start = datetime.now(UTC).replace(microsecond=0, second=0, minute=0) + timedelta(days=40)
    enquiry = make_enquiry(kind=Enquiry.PRIVATE_TRAINING, topic="training", course_id=course.id, attendees=4,
                           training_format="online", preferred_dates="any week")
    chosen, _other = private.propose_dates(
        enquiry, admin, course_id=course.id, ranges=[(start, start + timedelta(days=1, hours=8)),
                                                     (start + timedelta(days=7), start + timedelta(days=7, hours=8))],
        timezone="Europe/London", mode="online", location="", capacity=4)
    db.session.commit()
    link = private.accept_proposal(chosen)
    session = db.session.get(TrainingSession, link.session_id)
    session.join_url, session.join_text = "https://meet.example/fuzz", "Passcode 1234"
    db.session.commit()
    open_request = make_enquiry(kind=Enquiry.PRIVATE_TRAINING, topic="training", course_id=course.id, attendees=2,
                                training_format="on-site", preferred_dates="spring")
    waiting, = private.propose_dates(open_request, admin, course_id=course.id, ranges=[(start, start + timedelta(hours=8))],
                                     timezone="Europe/Berlin", mode="on-site", location="Berlin", capacity=2)
    db.session.commit()
    return {"token": [private.link_token(link), private.proposal_token(waiting)],
            "session_id": [str(session.id)], "enquiry_id": [str(enquiry.id)]}

def populate_aftercare() -> dict[str, list[str]]:
    """#16 after the course: a past session with attendance, a certificate and a quote awaiting approval, an
    upcoming one awaiting its go/no-go, and interest entries (pending, confirmed). Returns their URL values."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import update

    from blueprints.training import certificates
    from blueprints.training.interest import entry_token
    from blueprints.training.links import link_token
    from extensions import db
    from models import Booking, Certificate, Course, Feedback, InterestEntry, SessionMinimum
    from models.attendance import session_dates
    from tests.factories import make_booking, make_session

    course = db.session.scalar(select(Course).order_by(Course.position).limit(1))
    starts = datetime.now(UTC).replace(microsecond=0, minute=0) - timedelta(days=4)
    past = make_session(course=course, starts_at=starts, ends_at=starts + timedelta(days=1, hours=8))
    came = make_booking(past, name="Zoë Ångström", company="Nordlicht GmbH", status=Booking.CONFIRMED)
    quoted = make_booking(past, name="محمد الأحمد", email="m@example.org", status=Booking.CONFIRMED)
    certificates.mark_attendance(past, None, {(came.id, day) for day in session_dates(past)})
    certificates.issue_certificates(past, None)
    db.session.flush()
    # A fixed verification id: every test's populate() has the same URLs (the form walk is cached per worker).
    db.session.execute(update(Certificate).values(id="fuzz-certificate-00000000001"))
    db.session.add(Feedback(booking_id=quoted.id, session_id=past.id, course_id=course.id, answered_at=datetime.now(UTC),
                            rating_overall=5, rating_content=4, rating_trainer=5, comment="Sehr gut.", may_quote=True,
                            quote_name="محمد", quote_company="شركة", quote_status=Feedback.PENDING))
    soon = make_session(course=course, starts_at=datetime.now(UTC).replace(microsecond=0) + timedelta(days=2))
    make_booking(soon, status=Booking.CONFIRMED)
    db.session.add(SessionMinimum(session_id=soon.id, min_attendees=4, decide_by=soon.local_starts_at.date()))
    entries = [InterestEntry(course_id=course.id, email=f"{status}@bücher.example", email_key=f"{status}@xn--bcher-kva.example",
                             status=status, token_hash=f"{status:0<64}"[:64],
                             confirmed_at=datetime.now(UTC) if status == InterestEntry.CONFIRMED else None)
               for status in (InterestEntry.PENDING, InterestEntry.CONFIRMED)]
    db.session.add_all(entries)
    db.session.flush()
    tokens = [link_token(came), link_token(quoted), *(entry_token(e) for e in entries)]
    db.session.commit()
    return {"token": tokens, "session_id": [str(past.id), str(soon.id)]}
