"""/admin/redirects: the old addresses that answer 301, and where each leads now."""
from __future__ import annotations

from flask import render_template, request
from sqlalchemy import func, or_, select

from blueprints.admin import bp, paginate
from extensions import db
from models import Redirect

PER_PAGE = 50


@bp.get("/redirects")
def redirects():
    search = (request.args.get("q") or "").strip()[:200]
    query = select(Redirect).order_by(Redirect.old_path)
    if search:
        like = f"%{search.lower()}%"
        query = query.where(or_(Redirect.old_path.like(like), func.lower(Redirect.note).like(like)))
    results = paginate(query, PER_PAGE)
    rows = [(r, r.destination()) for r in results.items]
    total = db.session.scalar(select(func.count()).select_from(Redirect)) or 0
    return render_template("admin/redirects.html", results=results, rows=rows, search=search, total=total)
