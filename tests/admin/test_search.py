"""Admin search: the database's full-text index over enquiries, bookings, posts and comments, on both databases."""
from __future__ import annotations

import importlib.util
import os
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from blueprints.admin import operations as admin_ops
from extensions import db
from models import Comment
from models import search as index
from tests.conftest import ROOT
from tests.factories import make_booking, make_enquiry, make_post, make_session


def found(query: str, **kw) -> list[tuple[str, int]]:
    return [(h.kind, h.id) for h in index.search(query, **kw).hits]


def test_an_enquiry_is_found_by_its_name_address_company_and_message(app):
    e = make_enquiry(name="Zoë Ångström", email="zoe@bücher.example", company="Nordlicht GmbH",
                     message="We need a Kubernetes upgrade plan before the freeze.")
    other = make_enquiry(name="Someone Else", company="Acme", message="Printers.")
    # (Accents count on PostgreSQL, whose 'simple' configuration keeps them; FTS5 also finds "angstrom".)
    for query in ("Zoë", "zoë ångström", "ÅNGSTRÖM", "zoe@bücher.example", "Nordlicht", "kubernetes",
                  '"upgrade plan"', "freeze"):
        assert found(query) == [("enquiry", e.id)], query
    assert found("printers") == [("enquiry", other.id)]
    assert found("kubernetes -freeze") == []
    assert sorted(found("kubernetes or printers")) == sorted([("enquiry", e.id), ("enquiry", other.id)])


def test_right_to_left_text_is_found(app):
    e = make_enquiry(name="محمد الأحمد", message="نحتاج إلى مساعدة في الشبكة")
    assert found("الأحمد") == [("enquiry", e.id)]
    assert found("الشبكة") == [("enquiry", e.id)]


def test_bookings_posts_and_comments_are_found_too(app):
    session = make_session()
    booking = make_booking(session, name="Ingrid Søndergaard", company="Fjordnet AS")
    post = make_post(title="Zero-downtime PostgreSQL upgrades", body="Logical replication, step by step.")
    comment = Comment(post=post, author_name="Ola Nordmann", author_email="ola@example.no",
                      body="Does this work with Fjordnet's setup?")
    db.session.add(comment)
    db.session.commit()
    assert found("Søndergaard") == [("booking", booking.id)]
    assert set(found("fjordnet")) == {("booking", booking.id), ("comment", comment.id)}
    assert found("replication") == [("post", post.id)]
    assert found("fjordnet", kinds=("comment",)) == [("comment", comment.id)]


def test_a_match_in_the_name_ranks_above_one_in_the_message(app):
    in_message = make_enquiry(name="Anna Berg", message="Please forward this to Lindqvist, our architect.")
    in_name = make_enquiry(name="Erik Lindqvist", message="Hello.")
    assert found("lindqvist") == [("enquiry", in_name.id), ("enquiry", in_message.id)]


def test_an_edit_leaves_the_old_words_behind_and_a_deleted_row_leaves_the_index(app):
    e = make_enquiry(message="Old words: mainframe migration.")
    e.message = "New words: cloud landing zone."
    db.session.commit()
    assert found("mainframe") == []
    assert found("landing") == [("enquiry", e.id)]
    db.session.delete(e)
    db.session.commit()
    assert found("landing") == []


def test_an_erased_enquiry_is_not_found_by_its_old_text(app, admin_user):
    e = make_enquiry(name="Birgitta Hållén", email="birgitta@hallen.example", company="Hållén Konsult",
                     message="Confidential: our Oracle licences expire in March.")
    booking = make_booking(name="Birgitta Hållén", email="birgitta@hallen.example", company="Hållén Konsult")
    assert found("Hållén") == [("booking", booking.id), ("enquiry", e.id)] or \
        set(found("Hållén")) == {("booking", booking.id), ("enquiry", e.id)}
    admin_ops.erase_person("birgitta@hallen.example", admin_user)
    db.session.commit()
    for query in ("Hållén", "Birgitta", "birgitta@hallen.example", "hallen", "Oracle", "licences", "Konsult"):
        assert found(query) == [], query


def test_results_are_paginated(app):
    for n in range(25):
        make_enquiry(name=f"Person {n}", message="About the quarterly patching window.")
    first, second = index.search("patching", page=1, per_page=20), index.search("patching", page=2, per_page=20)
    assert (first.total, len(first.hits), len(second.hits), first.pages) == (25, 20, 5, 2)
    assert not {h.id for h in first.hits} & {h.id for h in second.hits}
    assert index.search("patching", page=99, per_page=20).hits == []


def test_too_many_matches_to_rank_come_newest_first(app, monkeypatch, admin_client):
    monkeypatch.setattr(index, "RANK_LIMIT", 5)
    made = [make_enquiry(name=f"Person {n}", message="Backup rotation.") for n in range(8)]
    results = index.search("backup", per_page=3)
    assert results.broad and results.total == 5
    assert [h.id for h in results.hits] == [e.id for e in reversed(made)][:3]
    assert [h.id for h in index.search("backup", per_page=3, page=2).hits] == [e.id for e in reversed(made)][3:6]
    page = admin_client.get("/admin/search?q=backup").get_data(as_text=True)
    assert "More than 5 results for “<bdi>backup</bdi>”" in page and "newest first" in page


def test_the_search_page_lists_what_it_found_with_the_words_marked(admin_client):
    e = make_enquiry(name="Zoë Ångström", company="Nordlicht", message="We need a Kubernetes upgrade plan.")
    response = admin_client.get("/admin/search", query_string={"q": "kubernetes"})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "1 result for “<bdi>kubernetes</bdi>”" in page
    assert f'href="/admin/enquiries/{e.id}"' in page and "Zoë Ångström" in page
    assert "<mark>Kubernetes</mark> upgrade plan" in page
    assert "Nothing found for “<bdi>nomatch</bdi>”" in admin_client.get("/admin/search?q=nomatch").get_data(as_text=True)


def test_the_search_page_pages_and_filters(admin_client):
    for n in range(23):
        make_enquiry(name=f"Person {n}", message="Firewall audit.")
    make_booking(name="Firewall Fredrik")
    page1 = admin_client.get("/admin/search?q=firewall").get_data(as_text=True)
    assert "24 results" in page1 and "Page 1 of 2" in page1 and 'rel="next"' in page1
    assert page1.count('class="search-result"') == 20
    page2 = admin_client.get("/admin/search?q=firewall&page=2").get_data(as_text=True)
    assert page2.count('class="search-result"') == 4
    bookings = admin_client.get("/admin/search?q=firewall&kind=booking").get_data(as_text=True)
    assert "1 result for" in bookings and "<mark>Firewall</mark> Fredrik" in bookings
    for nonsense in ("page=-5", "page=abc", "page=99999999999999999999", "kind=../../etc"):
        assert admin_client.get(f"/admin/search?q=firewall&{nonsense}").status_code == 200


def test_search_is_for_the_signed_in_consultant_only(client):
    response = client.get("/admin/search?q=anything")
    assert response.status_code in (302, 303) and "/admin/login" in response.headers["Location"]


NASTY = ['"', '""', '"unclosed', "-", "--", "- -", "or", "OR OR", "a OR", "NOT", "AND", "NEAR(a b)", "*", "a*",
         "^a", "col:value", "name:x", "(", ")", "((a)", "'", "\\", "\x00", "a\x00b", "\x00\x00", "%", "_",
         "‮evil‬", "שלום", "محمد", "🙂", "e\u0301", "\ufeff", ":", "{a b}", "a + b", "a & b | !c", "<->",
         "a:*", "'a':*", "!", "&", "|", "-\"phrase\"", "\u200f", "x" * 5000]


@pytest.mark.parametrize("query", NASTY)
def test_no_typed_text_is_an_error(admin_client, query):
    make_enquiry(name="A person", message="a b c")
    response = admin_client.get("/admin/search", query_string={"q": query})
    # NUL in a URL names nothing: web/requests.py answers 404 before any view (PostgreSQL refuses NUL).
    assert response.status_code == (404 if "\x00" in query else 200)


PROFILE = settings.get_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@settings(parent=PROFILE)
@given(st.text(max_size=80))
def test_any_text_at_all_is_a_valid_query(app, query):
    results = index.search(query)
    assert results.total >= 0 and len(results.hits) <= results.per_page
    db.session.rollback()


@settings(parent=PROFILE)
@given(st.text(alphabet=st.sampled_from('ab "-()*:^ORNT\x00ש'), max_size=30))
def test_any_mix_of_operators_is_a_valid_query(app, query):
    index.search(query)
    db.session.rollback()


def test_the_query_keeps_no_control_characters_and_has_a_length_limit():
    assert index.clean("a\x00b\u202ec\n d") == "a b c d"
    assert len(index.clean("x" * 1000)) == index.MAX_QUERY_LENGTH
    assert index.fts5_query('zoë "upgrade plan" -freeze or "x""y"') == \
        '("zoë" AND "upgrade plan" NOT "freeze") OR ("x" AND "y")'


def test_the_migration_creates_the_index_the_models_describe():
    path = ROOT / "migrations" / "versions" / "0012_search_and_digest.py"
    spec = importlib.util.spec_from_file_location("migration_0012", path)
    migration = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(migration)
    for dialect in ("sqlite", "postgresql"):
        assert list(migration.SCHEMA[dialect][0]) == index.schema(dialect)
        assert list(migration.SCHEMA[dialect][1]) == index.drop_schema(dialect)


def test_an_excerpt_is_a_window_around_the_first_mark():
    text = "word " * 100 + "the Kubernetes cluster " + "word " * 100
    pieces = index.excerpt(text, ["kubernetes"])
    joined = "".join(t for t, _ in pieces)
    assert ("Kubernetes", True) in pieces and joined.startswith("…") and joined.endswith("…")
    assert re.search(r"\w", joined) and len(joined) < 200
