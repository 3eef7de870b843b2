from flask import Blueprint

bp = Blueprint("training", __name__)

from blueprints.training import routes  # noqa: E402,F401  (registers the routes)
from blueprints.training.aftercare import register as _register_aftercare  # noqa: E402  (#16: after the course)

_register_aftercare()
