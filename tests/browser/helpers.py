"""Helpers for the browser tests: waiting for mail, finding pages, screenshots, signing in."""
from __future__ import annotations

import re
import threading
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlsplit, urlunsplit

from tests.conftest import ROOT, SmtpServer

ADMIN_EMAIL = "consultant@example.com"
ADMIN_PASSWORD = "correct horse battery staple"
WIDTHS = {"phone": (390, 844), "desktop": (1280, 900)}
SCREENSHOTS = ROOT / "reports" / "screenshots"
MAIL_TIMEOUT = 15  # seconds; the outbox thread is woken after commit, so mail normally arrives in well under one

# --- mail -------------------------------------------------------------------------------------

class MailBox(SmtpServer):
    """The shared SmtpServer, plus a way to wait for a message without sleeping in a loop."""

    def __init__(self) -> None:
        super().__init__()
        self.arrived = threading.Condition()
        handler = self.handler
        original = handler.handle_DATA

        async def handle_and_notify(server, session, envelope):
            answer = await original(server, session, envelope)
            with self.arrived:
                self.arrived.notify_all()
            return answer

        handler.handle_DATA = handle_and_notify

    def wait_for(self, predicate, timeout: float = MAIL_TIMEOUT, what: str = "a matching email"):
        """The first message for which predicate(message) is true, waiting up to `timeout` seconds."""
        def find():
            return next((m for m in list(self.messages) if predicate(m)), None)

        with self.arrived:
            found = self.arrived.wait_for(find, timeout=timeout)
        if found is None:
            seen = [(m["To"], m["Subject"]) for m in self.messages]
            raise AssertionError(f"no {what} arrived within {timeout}s; the SMTP server has {seen}")
        return found

    def to(self, address: str, subject_contains: str = "", timeout: float = MAIL_TIMEOUT):
        def matches(message):
            return address.lower() in str(message["To"]).lower() and subject_contains.lower() in str(message["Subject"]).lower()

        return self.wait_for(matches, timeout, what=f"email to {address} with {subject_contains!r} in the subject")


def body_text(message) -> str:
    part = message.get_body(preferencelist=("plain",))
    return part.get_content() if part is not None else ""


def links_in(text: str) -> list[str]:
    return re.findall(r"https?://[^\s<>\"')\]]+", text)


def new_context(browser, live_server, width: str = "desktop", **options):
    w, h = WIDTHS[width]
    context = browser.new_context(base_url=live_server.url, viewport={"width": w, "height": h}, **options)
    context.set_default_timeout(10_000)
    return context


def log_in(page, live_server) -> None:
    page.goto("/admin/login")
    page.get_by_label("Email").fill(live_server.admin_email)
    page.get_by_label("Password").fill(live_server.admin_password)
    page.get_by_role("button", name=re.compile("sign in|log in", re.I)).click()
    page.wait_for_load_state()
    assert "/admin/login" not in page.url, "the consultant could not sign in"


# --- pages ---------------------------------------------------------------------------------

def slug_for(url: str) -> str:
    """A file name for a page: /blog/tag/docker -> blog-tag-docker; / -> home."""
    parts = urlsplit(url)
    path = parts.path.strip("/") or "home"
    name = re.sub(r"[^A-Za-z0-9]+", "-", path + ("-" + parts.query if parts.query else "")).strip("-")
    return name[:100]


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path



# --- finding pages -------------------------------------------------------------------------

class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.hrefs.append(href)


# Not pages: feeds, calendars, files, and what a link must never do (sign out).
NOT_PAGES = re.compile(r"(\.(xml|ics|txt|ico|svg|png|jpg|css|js|json)$)|^/static/|logout|sign-?out|/healthz", re.I)


def pattern_of(link: str) -> str:
    """Pages that differ only by a number or a query value share a template: /admin/enquiries/7?page=2 -> /admin/enquiries/N?page=."""
    path, _, query = link.partition("?")
    keys = sorted(part.split("=", 1)[0] for part in query.split("&") if part)
    return re.sub(r"/\d+(?=/|$)", "/N", path) + ("?" + "&".join(f"{k}=" for k in keys) if keys else "")


def crawl(request, start: list[str], base: str, inside: str = "/", limit: int = 80,
          exclude: re.Pattern | None = None) -> list[str]:
    """Paths reachable by GET links from `start` under `inside`, one per numbered pattern, in order found.

    `request` is Playwright's APIRequestContext (context.request), so a signed-in context crawls the admin.
    """
    origin = urlsplit(base).netloc
    seen_patterns: set[str] = set()
    found: list[str] = []
    queue = list(start)
    while queue and len(found) < limit:
        path = queue.pop(0)
        if pattern_of(path) in seen_patterns:
            continue
        seen_patterns.add(pattern_of(path))
        response = request.get(base + path, max_redirects=0)
        if response.status != 200 or "text/html" not in response.headers.get("content-type", ""):
            continue
        found.append(path)
        parser = _Links()
        parser.feed(response.text())
        for href in parser.hrefs:
            parts = urlsplit(urljoin(base + path, href))
            if parts.netloc != origin or parts.scheme not in ("http", "https"):
                continue
            link = urlunsplit(("", "", parts.path, parts.query, ""))
            if not parts.path.startswith(inside) or NOT_PAGES.search(parts.path):
                continue
            if exclude is not None and exclude.search(link):
                continue
            if pattern_of(link) not in seen_patterns:
                queue.append(link)
    return found


# --- keyboard --------------------------------------------------------------------------------

FOCUSED = """() => {
  const el = document.activeElement;
  if (!el || el === document.body) return "";
  const name = (el.getAttribute("aria-label") || el.innerText || el.value || "").trim().replace(/\\s+/g, " ");
  return `${el.tagName.toLowerCase()}#${el.id || ""} ${name}`.slice(0, 120);
}"""


def tab_to(page, matches: str, text: str | None = None, limit: int = 150) -> str:
    """Press Tab (only Tab) until the focused element matches the CSS selector (and has `text`); returns what got focus.

    Fails, listing the focus order, if the element cannot be reached by keyboard.
    """
    order = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(
            "([sel, text]) => { const el = document.activeElement;"
            " return !!el && el.matches(sel) && (text === null || el.innerText.trim() === text); }",
            [matches, text],
        ):
            return page.evaluate(FOCUSED)
        order.append(page.evaluate(FOCUSED))
        if len(order) > 3 and order[-1] == order[0] and order.count(order[0]) > 2:
            break  # focus has gone round the page more than twice
    raise AssertionError(f"{matches} {text or ''} on {page.url} was not reached by Tab; focus went: {order}")


def type_into(page, field_selector: str, text: str) -> None:
    """Tab to a field and type, as a person at a keyboard does."""
    tab_to(page, field_selector)
    page.keyboard.type(text)


def audit_page(page, axe, vnu, name: str, width: str, slice_name: str) -> None:
    """No axe violation, valid HTML, nothing wider than the screen; saves the screenshot <slice>-<name>-<px>.png."""
    assert axe(page) == [], f"axe on {name} at {width}"
    problems = vnu({name: page.content()})
    assert problems[name] == [], f"HTML checker on {name}: {problems[name]}"
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 0, f"{name} is {overflow}px wider than the {width} screen"
    screenshot(page, f"{slice_name}-{name}-{WIDTHS[width][0]}")
