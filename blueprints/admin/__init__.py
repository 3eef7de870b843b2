from flask import Blueprint, request, session
from flask_login import current_user, login_fresh, logout_user

from extensions import login_manager

bp = Blueprint("admin", __name__, url_prefix="/admin")

# Endpoints anyone may reach; every other /admin endpoint requires a signed-in consultant.
PUBLIC_ENDPOINTS = {"admin.login"}


@bp.before_request
def require_login():
    """One guard for the whole area, so a new admin route cannot be left open by mistake."""
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not login_fresh():
        # Flask-Login only marks a *permanent* session non-fresh when the browser's address or
        # user agent changes (its "strong" mode applies to non-permanent sessions); a cookie
        # replayed from elsewhere is treated as signed out.
        logout_user()
        session.clear()
        return login_manager.unauthorized()
    return None


# Each area of the admin lives in its own module.
from blueprints.admin import (  # noqa: E402,F401
    bookings,
    comments,
    content,
    enquiries,
    outbox,
    privacy,
    routes,
)
