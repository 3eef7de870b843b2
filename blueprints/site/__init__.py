from flask import Blueprint

bp = Blueprint("site", __name__)

from blueprints.site import routes  # noqa: E402,F401  (registers the routes)
