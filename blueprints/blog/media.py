"""/media/<name>: the images the articles show, stored in the database (see models/media.py)."""
from __future__ import annotations

from flask import Response, abort, request
from sqlalchemy import select

from blueprints.blog import bp
from extensions import db
from models.media import FINGERPRINTED, MediaFile


@bp.get("/media/<path:name>")
def media(name: str):
    item = db.session.scalar(select(MediaFile).where(MediaFile.name == name))
    if item is None:
        abort(404)
    etag = item.sha256
    response = Response(item.data, mimetype=item.content_type)
    response.set_etag(etag)
    response.cache_control.public = True
    if item.name.startswith(FINGERPRINTED):
        # The name holds the hash of the bytes (an upload): it can never change, so caches keep it a year.
        response.cache_control.max_age = 31536000
        response.cache_control.immutable = True
    else:
        # An imported file's name is the old site's: a new version gets a new name, but keep a day only.
        response.cache_control.max_age = 86400
    response.headers["Content-Disposition"] = "inline"
    response.headers["Content-Security-Policy"] = "default-src 'none'"
    return response.make_conditional(request)
