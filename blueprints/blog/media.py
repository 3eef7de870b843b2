"""/media/<name>: the images the articles show, stored in the database (see models/media.py)."""
from __future__ import annotations

from flask import Response, abort, request
from sqlalchemy import select

from blueprints.blog import bp
from extensions import db
from models.media import MediaFile


@bp.get("/media/<path:name>")
def media(name: str):
    item = db.session.scalar(select(MediaFile).where(MediaFile.name == name))
    if item is None:
        abort(404)
    etag = item.sha256
    response = Response(item.data, mimetype=item.content_type)
    response.set_etag(etag)
    # A file under a name never changes (a new version gets a new name): caches may keep it a day.
    response.cache_control.public = True
    response.cache_control.max_age = 86400
    response.headers["Content-Disposition"] = "inline"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response.make_conditional(request)
