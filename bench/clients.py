"""Clients of the site under test: an SMTP sink that counts what arrives, and a form-filling HTTP client."""
from __future__ import annotations

from bench.common import free_port

# --- mail -------------------------------------------------------------------------------------

class SmtpSink:
    """A real SMTP server on loopback (aiosmtpd) that accepts every message, optionally after a delay."""

    def __init__(self, delay: float = 0.0) -> None:
        import logging

        from aiosmtpd.controller import Controller

        logging.getLogger("mail.log").setLevel(logging.WARNING)
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                import asyncio

                if sink.delay:
                    await asyncio.sleep(sink.delay)
                sink.received += 1
                return "250 OK"

        self.delay = delay
        self.received = 0
        self.port = free_port()
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> SmtpSink:
        self.controller.start()
        return self

    def __exit__(self, *exc) -> None:
        self.controller.stop()

    def env(self) -> dict:
        return {"MAIL_SERVER": "127.0.0.1", "MAIL_PORT": str(self.port), "MAIL_USE_TLS": "0", "MAIL_USE_SSL": "0"}


# --- forms over HTTP ------------------------------------------------------------------------------

class _FormParser:
    """The fields of the first POST form on a page: hidden values kept, selects with their options."""

    def __init__(self, html: str) -> None:
        from html.parser import HTMLParser

        self.fields: dict[str, str] = {}
        self.kinds: dict[str, str] = {}
        self.options: dict[str, list[str]] = {}
        parser = HTMLParser()
        state = {"in_form": False, "done": False, "select": None}

        def start(tag, attrs):
            a = {k: (v or "") for k, v in attrs}
            if state["done"]:
                return
            if tag == "form" and a.get("method", "get").lower() == "post":
                state["in_form"] = True
            if not state["in_form"]:
                return
            name = a.get("name")
            if tag == "input" and name:
                self.kinds[name] = a.get("type", "text").lower()
                self.fields[name] = a.get("value", "y" if self.kinds[name] == "checkbox" else "")
            elif tag == "textarea" and name:
                self.kinds[name], self.fields[name] = "textarea", ""
            elif tag == "select" and name:
                self.kinds[name], state["select"] = "select", name
                self.options[name] = []
            elif tag == "option" and state["select"]:
                self.options[state["select"]].append(a.get("value", ""))

        def end(tag):
            if tag == "select":
                state["select"] = None
            if tag == "form" and state["in_form"]:
                state["in_form"], state["done"] = False, True

        parser.handle_starttag = start
        parser.handle_startendtag = start
        parser.handle_endtag = end
        parser.feed(html)


class FormClient:
    """One visitor: keeps its cookies, fetches a form (CSRF token, spam timestamp) and posts it."""

    def __init__(self, port: int) -> None:
        import http.client

        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        self.cookies: dict[str, str] = {}
        self.form: _FormParser | None = None

    def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, dict, bytes]:
        import http.client

        headers = {"Host": f"127.0.0.1:{self.port}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        for attempt in (1, 2):  # a sync worker closes the connection after each response
            try:
                self.conn.request(method, path, body=body, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                break
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError, http.client.CannotSendRequest):
                self.conn.close()
                if attempt == 2:
                    raise
        for key, value in response.getheaders():
            if key.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
        if (response.getheader("Connection") or "").lower() == "close":
            self.conn.close()
        return response.status, dict(response.getheaders()), data

    def load_form(self, path: str) -> int:
        status, _headers, body = self.request("GET", path)
        self.form = _FormParser(body.decode("utf-8", "replace"))
        return status

    def submit(self, path: str, values: dict[str, str]) -> tuple[int, bytes]:
        """POST the loaded form: hidden fields as rendered, `values` for the rest, first real option for selects."""
        from urllib.parse import urlencode

        fields = {}
        for name, kind in self.form.kinds.items():
            if name in values:
                fields[name] = values[name]
            elif kind == "hidden":
                fields[name] = self.form.fields[name]
            elif kind == "select":
                fields[name] = next((o for o in self.form.options.get(name, []) if o), "")
            elif kind in ("submit", "checkbox"):
                continue
            else:
                fields[name] = ""  # the honeypot and anything optional stay empty
        status, _headers, body = self.request("POST", path, urlencode(fields).encode())
        return status, body

    def close(self) -> None:
        self.conn.close()
