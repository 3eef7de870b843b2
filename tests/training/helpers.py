"""Training test helpers: run an operation as a view or command does (commit once, or roll back a refusal);
serve the app on loopback and POST to it over real HTTP."""
from __future__ import annotations

import threading
import urllib.error
import urllib.parse
import urllib.request
from contextlib import contextmanager

from werkzeug.serving import make_server

from extensions import db
from models.transactions import NotAllowed


def run(operation, *args, **kwargs):
    try:
        result = operation(*args, **kwargs)
    except NotAllowed:
        db.session.rollback()
        raise
    db.session.commit()
    return result


@contextmanager
def serving(app):
    """The app served by a threaded WSGI server on loopback: every request its own thread and app context."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def post(url: str, data: dict) -> int:
    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, data=urllib.parse.urlencode(data).encode(), method="POST")
    try:
        with opener.open(request, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def post_for_location(url: str, data: dict) -> tuple[int, str]:
    """POST without following a redirect: the status and the Location it pointed to."""
    opener = urllib.request.build_opener(NoRedirect)
    request = urllib.request.Request(url, data=urllib.parse.urlencode(data).encode(), method="POST")
    try:
        with opener.open(request, timeout=60) as response:
            return response.status, response.headers.get("Location", "")
    except urllib.error.HTTPError as error:
        return error.code, error.headers.get("Location", "")
