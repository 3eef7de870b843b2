"""How Flask-Login finds the signed-in consultant."""
from __future__ import annotations

from extensions import db, login_manager
from models import AdminUser

login_manager.login_view = "admin.login"
login_manager.login_message = "Please sign in to continue."
login_manager.login_message_category = "info"
login_manager.session_protection = "strong"


@login_manager.user_loader
def load_user(user_id: str) -> AdminUser | None:
    """The id carries the user's session token, so rotating the token ends old sessions."""
    pk, _, token = user_id.partition(":")
    if not pk.isdigit() or not token:
        return None
    user = db.session.get(AdminUser, int(pk))
    if user is None or user.session_token != token:
        return None
    return user
