from flask import Blueprint

bp = Blueprint("blog", __name__)

from blueprints.blog import media, routes  # noqa: E402,F401  (registers the routes)
from blueprints.blog.wordpress import redirects  # noqa: E402,F401  (old WordPress addresses answer 301)
