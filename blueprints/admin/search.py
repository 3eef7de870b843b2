"""One search box over enquiries, bookings, posts and comments (the index itself: models/search.py)."""
from __future__ import annotations

from flask import render_template, request

from blueprints.admin import MAX_PAGE, bp
from models import search as index

PER_PAGE = 20
KIND_LABELS = {"enquiry": "Enquiries", "booking": "Bookings", "post": "Posts", "comment": "Comments"}


@bp.get("/search")
def search():
    query = index.clean(request.args.get("q"))
    kind = request.args.get("kind", "")
    kinds = (kind,) if kind in index.KINDS else index.KINDS
    page = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
    results = index.search(query, page=page, per_page=PER_PAGE, kinds=kinds)
    return render_template("admin/search.html", query=query, kind=kind if kind in index.KINDS else "",
                           kinds=KIND_LABELS, results=results, items=index.load(results.hits),
                           marks=index.words(query), excerpt=index.excerpt,
                           best_excerpt=index.best_excerpt)
