from flask import Blueprint

bp = Blueprint("training", __name__)

from blueprints.training import routes  # noqa: E402,F401,I001  (registers the routes)
from blueprints.training import private_routes  # noqa: E402,F401  (private courses: proposals, the private link)
from blueprints.training.aftercare import register as _register_aftercare  # noqa: E402  (#16: after the course)

_register_aftercare()
