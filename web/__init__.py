"""What wraps every request, registered in wrapping order by `init_app`.

requests.py        request id, trusted proxies, host check, body size limit; URLs from SITE_URL
errors.py          styled error pages for every status, never a stack trace
security.py        security headers, form body checks, blueprint-wide POST rate limits
spam.py            spam traps shared by the public forms (used by the forms, nothing to register)
http_caching.py    ETag/304 and gzip for pages that are the same for every visitor
static_build.py    fingerprinted, pre-compressed static files (WhiteNoise)
page_cache.py      anonymous public pages rendered once per content version (the outermost layer);
page_cache_forms.py  its per-visitor form tokens
stats.py           visit statistics, counted outside the page cache (so cached hits and 304s count)
template_helpers.py  Jinja filters and globals for pages and emails
markdown.py        Markdown to sanitised HTML, at save time
"""
from __future__ import annotations

from flask import Flask

from web import errors, http_caching, page_cache, requests, security, static_build, stats, template_helpers

init_logging = requests.init_logging
init_converters = requests.init_converters


def init_app(app: Flask) -> None:
    requests.init_proxy(app)
    requests.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    http_caching.init_app(app)
    static_build.init_app(app)
    template_helpers.init_app(app)
    page_cache.init_app(app)  # it wraps the finished WSGI app
    stats.init_app(app)  # outermost: it sees what the page cache answers too
