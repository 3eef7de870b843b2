"""Case studies: the consultant's past projects, public at /case-studies, edited in the admin (Content)."""
from flask import Blueprint

bp = Blueprint("cases", __name__)

from blueprints.cases import routes  # noqa: E402,F401  (registers the routes)
