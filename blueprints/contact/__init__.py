from flask import Blueprint

bp = Blueprint("contact", __name__)

from blueprints.contact import routes  # noqa: E402,F401  (registers the routes)
