from flask import Blueprint

bp = Blueprint("training", __name__)

from blueprints.training import routes  # noqa: E402,F401  (registers the routes)
