"""Static files for production: fingerprinted names, pre-compressed copies, served by WhiteNoise.

`build()` copies static/ to STATIC_BUILD_DIR/<digest of the sources>/ with every file
also under a content-hashed name (css/site.3f2a9c0e1b7d.css), CSS url() references
rewritten to hashed names, gzip and brotli copies beside each compressible file, and
a manifest.json. The folder name is the digest of the sources, so a build is never
stale: after an edit the app simply finds no build for the new digest and serves
static/ unfingerprinted, as in development. gunicorn.conf.py builds at startup; the
Dockerfile builds at image build time; `flask assets build` does it by hand.

When the app starts it looks for the build of the current sources. Found: WhiteNoise
serves it (hashed names get a year's `Cache-Control: immutable`) and
url_for('static', filename=...) returns the hashed name, through one url_defaults hook.
Not found: Flask's own static view, unchanged.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import posixpath
import re
import shutil
import tempfile
from functools import partial
from pathlib import Path

from flask import Flask

log = logging.getLogger("portico.assets")

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_BUILD_DIR = BASE_DIR / "static-build"
MANIFEST = "manifest.json"
HASH_LENGTH = 12
HASHED_NAME = re.compile(r"\.[0-9a-f]{" + str(HASH_LENGTH) + r"}\.[A-Za-z0-9]+$")
CSS_URL = re.compile(r"""url\(\s*(['"]?)([^'")]+)\1\s*\)""")
ONE_YEAR = 365 * 24 * 3600
SHORT_MAX_AGE = 300  # unhashed names (e.g. linked from an old email): revalidate soon


def source_files(static_dir: Path) -> list[Path]:
    return sorted(p for p in static_dir.rglob("*") if p.is_file() and not p.name.startswith("."))


def source_digest(static_dir: Path) -> str:
    """A digest of every static file's path and content: the build folder's name."""
    digest = hashlib.sha256()
    for path in source_files(static_dir):
        digest.update(path.relative_to(static_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def hashed_name(name: str, content: bytes) -> str:
    stem, dot, ext = name.rpartition(".")
    tag = hashlib.sha256(content).hexdigest()[:HASH_LENGTH]
    return f"{stem}.{tag}.{ext}" if dot and stem else f"{name}.{tag}"


def rewrite_css(name: str, css: str, manifest: dict[str, str]) -> str:
    """Point relative url() references at hashed names, so a stylesheet's images are immutable too."""
    folder = posixpath.dirname(name)

    def replace(match: re.Match) -> str:
        quote, url = match.group(1), match.group(2)
        if url.startswith(("data:", "http:", "https:", "//", "#", "/")):
            return match.group(0)
        path, _, suffix = url.partition("?")
        target = posixpath.normpath(posixpath.join(folder, path))
        if target not in manifest:
            return match.group(0)
        relative = posixpath.relpath(manifest[target], folder or ".")
        return f"url({quote}{relative}{'?' + suffix if suffix else ''}{quote})"

    return CSS_URL.sub(replace, css)


def build(static_dir: Path, build_root: Path) -> Path:
    """Build (or find) the fingerprinted, compressed copy of static_dir; returns its folder.

    Safe to run from several processes at once: each builds in a temporary folder
    and renames it into place; the loser of the race discards its copy.
    """
    from whitenoise.compress import Compressor

    static_dir, build_root = Path(static_dir), Path(build_root)
    target = build_root / source_digest(static_dir)
    if (target / MANIFEST).exists():
        return target
    build_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".building-", dir=build_root))
    try:
        manifest: dict[str, str] = {}
        files = source_files(static_dir)
        # Stylesheets last, so the files they reference already have hashed names.
        for path in sorted(files, key=lambda p: (p.suffix == ".css", p.as_posix())):
            name = path.relative_to(static_dir).as_posix()
            content = path.read_bytes()
            if path.suffix == ".css":
                content = rewrite_css(name, content.decode("utf-8"), manifest).encode("utf-8")
            manifest[name] = hashed_name(name, content)
            for out_name in (name, manifest[name]):
                out = work / out_name
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(content)
        compressor = Compressor(quiet=True)
        for path in [p for p in work.rglob("*") if p.is_file()]:
            if compressor.should_compress(path.name):
                list(compressor.compress(str(path)))
        (work / MANIFEST).write_text(json.dumps(manifest, indent=1, sort_keys=True))
        for path in [work, *work.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        try:
            os.rename(work, target)
        except OSError:
            if not (target / MANIFEST).exists():
                raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("static files built in %s (%d files)", target, len(manifest))
    return target


def find_build(static_dir: Path, build_root: Path) -> tuple[Path, dict[str, str]] | None:
    folder = Path(build_root) / source_digest(Path(static_dir))
    try:
        return folder, json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def is_immutable(path: str, url: str) -> bool:
    return bool(HASHED_NAME.search(url))


def static_headers(headers, path: str, url: str, *, https: bool = False) -> None:
    """WhiteNoise answers before Flask: the pages' security headers are added here, the same ones."""
    from web.security import security_headers

    for name, value in security_headers(https).items():
        headers[name] = value
    if is_immutable(path, url):
        headers["Cache-Control"] = f"public, max-age={ONE_YEAR}, immutable"


def init_app(app: Flask) -> None:
    """Serve the build of the current static files if there is one; otherwise leave Flask's static view."""
    build_root = app.config.get("STATIC_BUILD_DIR")
    if not build_root or not app.static_folder:
        return
    found = find_build(Path(app.static_folder), Path(build_root))
    if found is None:
        if app.config["APP_ENV"] == "production":
            log.warning("no static build for the current files in %s: serving them unfingerprinted "
                        "(run `flask --app app assets build`)", build_root)
        return
    folder, manifest = found
    from whitenoise import WhiteNoise

    app.extensions["static_manifest"] = manifest
    app.wsgi_app = WhiteNoise(
        app.wsgi_app, root=str(folder), prefix=app.static_url_path, max_age=SHORT_MAX_AGE,
        allow_all_origins=False, immutable_file_test=is_immutable,
        add_headers_function=partial(static_headers, https=app.config["SITE_URL"].startswith("https://")),
    )

    @app.url_defaults
    def fingerprinted_static(endpoint: str, values: dict) -> None:
        if endpoint == "static" and "filename" in values:
            values["filename"] = manifest.get(values["filename"], values["filename"])


if __name__ == "__main__":  # `python -m web.static_build`: build without the app's settings (Dockerfile)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    build(BASE_DIR / "static", Path(os.environ.get("STATIC_BUILD_DIR") or DEFAULT_BUILD_DIR))
