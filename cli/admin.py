"""`flask admin …`: admin accounts."""
from __future__ import annotations

import click
from sqlalchemy import select

from extensions import db


@click.group("admin")
def admin_group() -> None:
    """Manage admin accounts."""


@admin_group.command("create")
@click.argument("email")
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="The password (asked for when not given).")
def admin_create(email: str, password: str) -> None:
    """Create an admin account, or reset the password of an existing one."""
    from models import AdminUser

    email = email.strip().lower()
    if len(password) < 10:
        raise click.BadParameter("use at least 10 characters", param_hint="--password")
    user = db.session.scalar(select(AdminUser).where(AdminUser.email == email))
    created = user is None
    if created:
        user = AdminUser(email=email)
        db.session.add(user)
    user.set_password(password)
    user.rotate_session_token()
    db.session.commit()
    click.echo(f"{'Created' if created else 'Updated'} admin {email}.")
