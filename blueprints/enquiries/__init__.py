from flask import Blueprint

bp = Blueprint("enquiries", __name__)

from blueprints.enquiries import routes  # noqa: E402,F401  (registers the routes)
