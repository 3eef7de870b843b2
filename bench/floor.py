"""The floor: a bare Flask app returning pre-rendered bytes, run under the same gunicorn settings as the site.

BENCH_FLOOR_DIR holds one file per page and `pages.tsv` (URL path, file name);
each URL returns its file's bytes as one pre-rendered string, so the only
difference from the site is the site's own code.
"""
import os
from pathlib import Path

from flask import Flask

app = Flask(__name__)
_dir = Path(os.environ.get("BENCH_FLOOR_DIR", "."))


def _view(body: bytes):
    def view():
        return body, 200, {"Content-Type": "text/html; charset=utf-8"}
    return view


if (_dir / "pages.tsv").exists():
    for number, line in enumerate((_dir / "pages.tsv").read_text().splitlines()):
        path, name = line.split("\t")
        app.add_url_rule(path, f"page{number}", _view((_dir / name).read_bytes()))


@app.get("/healthz")
def healthz():
    return {"status": "ok"}
