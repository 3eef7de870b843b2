"""Static files in production: fingerprinted names, a year's immutable caching, gzip and brotli copies."""
from __future__ import annotations

import gzip
import re
import shutil
from pathlib import Path

import brotli
import pytest

from tests.conftest import ROOT
from web.static_build import build, find_build, source_digest


@pytest.fixture
def built(tmp_path) -> Path:
    return build(ROOT / "static", tmp_path / "static-build")


@pytest.fixture
def app_config(built) -> dict:
    return {"STATIC_BUILD_DIR": str(built.parent)}


def fetch(client, url, **kwargs):
    """GET and close: WhiteNoise answers with an open file that the test client leaves to us."""
    response = client.get(url, **kwargs)
    response.get_data()
    response.close()
    return response


def stylesheet_url(client) -> str:
    page = client.get("/").get_data(as_text=True)
    match = re.search(r'<link rel="stylesheet" href="([^"]+)"', page)
    assert match, "home page links no stylesheet"
    return match.group(1)


def test_pages_link_fingerprinted_names(client):
    url = stylesheet_url(client)
    assert re.fullmatch(r"/static/css/site\.[0-9a-f]{12}\.css", url), url
    assert re.search(r'href="/static/img/favicon\.[0-9a-f]{12}\.svg"', client.get("/").get_data(as_text=True))


def test_fingerprinted_file_is_immutable_for_a_year(client):
    response = fetch(client, stylesheet_url(client))
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.mimetype == "text/css"
    assert b".brand-mark" in response.data


def test_unhashed_name_still_served_but_not_immutable(client):
    response = fetch(client, "/static/css/site.css")
    assert response.status_code == 200
    assert "immutable" not in response.headers["Cache-Control"]


@pytest.mark.parametrize(("encoding", "decode"), [("gzip", gzip.decompress), ("br", brotli.decompress)])
def test_precompressed_copies_are_served(client, encoding, decode):
    url = stylesheet_url(client)
    plain = fetch(client, url).data
    response = fetch(client, url, headers={"Accept-Encoding": encoding})
    assert response.headers["Content-Encoding"] == encoding
    assert "Accept-Encoding" in response.headers["Vary"]
    assert len(response.data) < len(plain) / 2
    assert decode(response.data) == plain


def test_stylesheet_references_hashed_images(client):
    css = fetch(client, stylesheet_url(client)).get_data(as_text=True)
    assert re.search(r'url\("\.\./img/favicon\.[0-9a-f]{12}\.svg"\)', css)


def test_conditional_request_for_static_file(client):
    url = stylesheet_url(client)
    first = fetch(client, url)
    again = fetch(client, url, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304


def test_build_is_keyed_by_content(tmp_path, built):
    assert build(ROOT / "static", built.parent) == built  # a second build finds the first
    copy = tmp_path / "static"
    shutil.copytree(ROOT / "static", copy)
    assert source_digest(copy) == built.name
    (copy / "css" / "site.css").write_text("body { color: red; }\n")
    assert find_build(copy, built.parent) is None  # an edit is never served from a stale build
    rebuilt = build(copy, built.parent)
    assert rebuilt != built
    manifest = find_build(copy, built.parent)[1]
    assert (rebuilt / manifest["css/site.css"]).read_text() == "body { color: red; }\n"


def test_without_a_build_static_files_are_plain(tmp_path, database_url, postgres):
    from tests.conftest import running_app

    for app in running_app(database_url, tmp_path, {"STATIC_BUILD_DIR": str(tmp_path / "none")}, postgres):
        client = app.test_client()
        assert stylesheet_url(client) == "/static/css/site.css"
        response = fetch(client, "/static/css/site.css")
        assert response.status_code == 200
        assert "immutable" not in response.headers.get("Cache-Control", "")


@pytest.mark.parametrize("https", [False, True])
def test_whitenoise_files_carry_the_pages_security_headers(tmp_path, built, database_url, postgres, https):
    from tests.conftest import running_app
    from web.security import security_headers

    site = "https://portico.example" if https else "http://localhost"
    for app in running_app(database_url, tmp_path, {"STATIC_BUILD_DIR": str(built.parent), "SITE_URL": site}, postgres):
        client = app.test_client()
        page = client.get("/privacy", base_url=site)
        expected = security_headers(https)
        assert {name: page.headers.get(name) for name in expected} == expected
        hashed = re.search(r'<link rel="stylesheet" href="([^"]+)"', page.get_data(as_text=True)).group(1)
        for url in (hashed, "/static/css/site.css"):
            response = fetch(client, url, base_url=site)
            assert response.status_code == 200, url
            assert {name: response.headers.get(name) for name in expected} == expected, url
