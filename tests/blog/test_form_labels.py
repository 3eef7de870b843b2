"""The shared form macro marks a field "(optional)" only when it may be left unanswered."""
from __future__ import annotations

import re

from tests.factories import make_course, make_enquiry, make_post


def label_of(page: str, field_id: str) -> str:
    match = re.search(rf'<label for="{field_id}">(.*?)</label>', page, re.S)
    assert match, f"no label for {field_id}"
    return " ".join(re.sub(r"<[^>]+>", "", match.group(1)).split())


def test_the_session_forms_selects_are_not_called_optional(admin_client, db_session):
    make_course()
    page = admin_client.get("/admin/sessions/new").text
    assert label_of(page, "course_id") == "Course"
    assert label_of(page, "mode") == "Format"


def test_the_enquiry_status_selects_are_not_called_optional(admin_client, db_session):
    enquiry = make_enquiry()
    assert label_of(admin_client.get(f"/admin/enquiries/{enquiry.id}").text, "status") == "Move to"
    # A filter's select is answered too: its first choice is "Any status".
    assert label_of(admin_client.get("/admin/enquiries").text, "status") == "Status"


def test_the_post_editor_marks_only_the_fields_that_may_stay_empty(admin_client, db_session):
    post = make_post()
    page = admin_client.get(f"/admin/posts/{post.id}").text
    assert label_of(page, "status") == "Status"
    assert label_of(page, "title") == "Title"
    assert label_of(page, "summary") == "Summary (optional)"
    assert label_of(page, "tags").endswith("(optional)")


def test_a_box_that_may_stay_empty_is_still_called_optional(client, db_session):
    page = client.get("/contact").text
    assert label_of(page, "company") == "Company (optional)"
    assert label_of(page, "topic") == "What is it about?"
    assert label_of(page, "name") == "Your name"
