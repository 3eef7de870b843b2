"""The old site's addresses, answered: a 404 that an imported redirect knows becomes a 301.

The lookup runs only where the site has nothing to show (the 404 handler) and on the home page's
WordPress query links (/?p=12), so no route of the blog changes and a page that exists never pays for it.
"""
from __future__ import annotations

from flask import abort, redirect, request

from blueprints.blog import bp
from models.redirects import QUERY_ARGS, Redirect
from web.errors import render_error


def _answer():
    if request.method not in ("GET", "HEAD"):
        return None
    found = Redirect.lookup(request.path, request.args)
    if found is None:
        return None
    target = found.destination()
    if target is None or target == request.path:  # an unpublished target, or a loop
        return None
    return redirect(target, code=301)


@bp.app_errorhandler(404)
def not_found(error):
    """An old permalink -> 301 to where it lives now; anything else is the usual 404 page."""
    try:
        answer = _answer()
    except Exception:  # noqa: BLE001  the 404 page must not turn into a 500 (the database is down: 404 as before)
        answer = None
    return answer if answer is not None else render_error(404)


@bp.before_app_request
def plain_permalink():
    """WordPress's plain links are queries on the home page (/?p=12): the home page route would show them the home page."""
    if request.path in ("/", "/index.php") and request.args and any(name in request.args for name in QUERY_ARGS):
        # This site never uses these queries itself: one that leads nowhere is an unknown old link, answered as one.
        return _answer() or abort(404)
    return None
