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


@admin_group.command("reset-2fa")
@click.argument("email")
def admin_reset_2fa(email: str) -> None:
    """Turn off two-factor sign-in for an owner who lost the authenticator and the recovery codes."""
    from sqlalchemy import func

    from blueprints.admin.account_operations import reset_two_factor
    from models import AdminUser

    user = db.session.scalar(select(AdminUser).where(func.lower(AdminUser.email) == email.strip().lower()))
    if user is None:
        raise click.ClickException(f"No admin account {email}.")
    was_on = user.two_factor_enabled
    reset_two_factor(user)  # audited as account.2fa_reset; every session of the account ends
    db.session.commit()
    click.echo(f"Two-factor sign-in {'turned off' if was_on else 'was not on'} for {user.email}; "
               "every session of the account is signed out. Sign in with the password, then set it up again.")
