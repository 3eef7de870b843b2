"""Account security: the code step of signing in, password links, and the Account page (two-factor sign-in,
sessions, other admins). Workflows are in account_operations.py."""
from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask_login import current_user

from blueprints.admin import account_operations as ops
from blueprints.admin import bp
from blueprints.admin.forms import (
    ButtonForm,
    CodeForm,
    ConfirmSetupForm,
    DisableTwoFactorForm,
    ForgotPasswordForm,
    InviteAdminForm,
    NewPasswordForm,
    PasswordCheckForm,
)
from blueprints.admin.operations import is_safe_next
from extensions import db, limiter
from models import AdminToken, AdminUser, RecoveryCode

_login_limit = limiter.limit(lambda: current_app.config.get("ADMIN_LOGIN_RATE_LIMIT", "5/minute"), methods=["POST"])
_reset_limit = limiter.limit(lambda: current_app.config.get("ADMIN_RESET_RATE_LIMIT", "5/hour"), methods=["POST"])


def _me() -> AdminUser:
    return current_user._get_current_object()


# --- signing in: the code after the password --------------------------------------------------------

@bp.route("/login/code", methods=["GET", "POST"])
@_login_limit
def login_code():
    user = ops.pending_user()
    if user is None:
        if request.method == "POST":
            flash("Your sign-in timed out. Please enter your email and password again.", "error")
        return redirect(url_for("admin.login"), code=303)
    form = CodeForm()
    if form.validate_on_submit():
        used = None if ops.network_waiting(user) else ops.use_second_factor(user, form.code.data)
        if used:
            target = ops.pending_next()
            ops.complete_sign_in(user, second_factor=used)
            db.session.commit()
            if used == "recovery code":
                left = RecoveryCode.left(user)
                flash(f"You signed in with a recovery code; {left} left. Make new ones on the Account page "
                      "if you are running low.", "warning")
            return redirect(target if is_safe_next(target) else url_for("admin.dashboard"), code=303)
        db.session.rollback()
        ops.record_wrong_code(user)
        if ops.count_wrong_code():
            flash("Too many wrong codes. Please enter your email and password again.", "error")
            return redirect(url_for("admin.login"), code=303)
        form.code.errors.append("That code is not right, or was already used. Wait for the next code and try again.")
        return render_template("admin/login_code.html", form=form), 200
    return render_template("admin/login_code.html", form=form)


# --- forgotten passwords and invitations --------------------------------------------------------------

@bp.route("/login/forgot", methods=["GET", "POST"])
@_reset_limit
def password_forgot():
    form = ForgotPasswordForm()
    if form.validate_on_submit():
        ops.request_password_reset(form.email.data)
        db.session.commit()
        # The same answer whether or not the address has an account.
        return redirect(url_for("admin.password_forgot", sent=1), code=303)
    return render_template("admin/password_forgot.html", form=form, sent=request.args.get("sent") == "1",
                           minutes=current_app.config.get("ADMIN_RESET_MINUTES", 30))


@bp.route("/login/reset/<token>", methods=["GET", "POST"])
@_reset_limit
def password_reset(token: str):
    link = AdminToken.find(token)
    if link is None:
        return render_template("admin/password_reset.html", form=None, link=None), 404
    form = NewPasswordForm()
    if form.validate_on_submit():
        user = ops.set_password_from_link(link, form.password.data)
        if user is None:
            db.session.rollback()
            return render_template("admin/password_reset.html", form=None, link=None), 404
        db.session.commit()
        return redirect(url_for("admin.login", password_set=1), code=303)
    return render_template("admin/password_reset.html", form=form, link=link)


# --- the Account page -------------------------------------------------------------------------------

@bp.get("/account")
def account():
    me = _me()
    return render_template(
        "admin/account.html", me=me, sessions=ops.live_sessions(me), current=g.get("admin_session"),
        admins=db.session.scalars(db.select(AdminUser).order_by(AdminUser.created_at, AdminUser.id)).all(),
        codes_left=RecoveryCode.left(me) if me.two_factor_enabled else 0,
        button=ButtonForm(), invite_form=InviteAdminForm())


@bp.get("/account/2fa")
def account_2fa():
    me = _me()
    qr = secret = None
    if me.totp_pending_secret:
        qr, secret = ops.qr_svg(ops.provisioning_uri(me)), me.totp_pending_secret
    return render_template("admin/account_2fa.html", me=me, qr=qr, secret=secret, button=ButtonForm(),
                           confirm_form=ConfirmSetupForm(), disable_form=DisableTwoFactorForm(prefix="disable"),
                           codes_form=PasswordCheckForm(prefix="codes"), codes_left=RecoveryCode.left(me))


def _form_expired():
    flash("The form expired; please try again.", "error")
    return redirect(url_for("admin.account_2fa"), code=303)


@bp.post("/account/2fa/start")
def account_2fa_start():
    if not ButtonForm().validate_on_submit():
        return _form_expired()
    ops.start_setup(_me())
    db.session.commit()
    return redirect(url_for("admin.account_2fa") + "#setup", code=303)


def _two_factor_page(status: int, **forms):
    me = _me()
    qr = ops.qr_svg(ops.provisioning_uri(me)) if me.totp_pending_secret else None
    pages = {"confirm_form": ConfirmSetupForm(formdata=None), "disable_form": DisableTwoFactorForm(formdata=None, prefix="disable"),
             "codes_form": PasswordCheckForm(formdata=None, prefix="codes"), **forms}
    return render_template("admin/account_2fa.html", me=me, qr=qr, secret=me.totp_pending_secret,
                           button=ButtonForm(), codes_left=RecoveryCode.left(me), **pages), status


@bp.post("/account/2fa/confirm")
def account_2fa_confirm():
    me, form = _me(), ConfirmSetupForm()
    if not me.totp_pending_secret:
        flash("Start the set-up first.", "error")
        return redirect(url_for("admin.account_2fa"), code=303)
    if not form.validate_on_submit():
        return _two_factor_page(422, confirm_form=form)
    codes = ops.confirm_setup(me, form.code.data, g.get("admin_session"))
    if codes is None:
        form.code.errors.append("That code is not right. Check the app shows this site's entry, and type the code "
                                "it shows now.")
        return _two_factor_page(422, confirm_form=form)
    db.session.commit()
    if not codes:
        flash("Your new authenticator app is in use; the old one no longer signs in.", "success")
        return redirect(url_for("admin.account"), code=303)
    # Shown once, in this answer: only their hashes are kept.
    return render_template("admin/recovery_codes.html", codes=codes, first=True)


@bp.post("/account/2fa/disable")
def account_2fa_disable():
    me, form = _me(), DisableTwoFactorForm(prefix="disable")
    if not me.two_factor_enabled:
        return redirect(url_for("admin.account_2fa"), code=303)
    if not form.validate_on_submit():
        return _two_factor_page(422, disable_form=form)
    if not me.check_password(form.password.data):
        form.password.errors.append("That is not your password.")
        return _two_factor_page(422, disable_form=form)
    if not ops.use_second_factor(me, form.code.data):
        db.session.rollback()
        form.code.errors.append("That code is not right, or was already used.")
        return _two_factor_page(422, disable_form=form)
    ops.disable_two_factor(me, me)
    db.session.commit()
    flash("Two-factor sign-in is off: your password alone signs you in.", "success")
    return redirect(url_for("admin.account"), code=303)


@bp.post("/account/2fa/recovery-codes")
def account_recovery_codes():
    me, form = _me(), PasswordCheckForm(prefix="codes")
    if not me.two_factor_enabled:
        return redirect(url_for("admin.account_2fa"), code=303)
    if not form.validate_on_submit():
        return _two_factor_page(422, codes_form=form)
    if not me.check_password(form.password.data):
        form.password.errors.append("That is not your password.")
        return _two_factor_page(422, codes_form=form)
    codes = ops.regenerate_codes(me)
    db.session.commit()
    return render_template("admin/recovery_codes.html", codes=codes, first=False)


@bp.post("/account/sessions/end-others")
def account_sessions_end():
    if not ButtonForm().validate_on_submit():
        flash("The form expired; please try again.", "error")
        return redirect(url_for("admin.account"), code=303)
    ended = ops.end_other_sessions(_me(), g.get("admin_session"))
    db.session.commit()
    flash(f"Signed out everywhere else ({ended} session{'s' if ended != 1 else ''}).", "success")
    return redirect(url_for("admin.account") + "#sessions", code=303)


@bp.post("/account/admins/invite")
def account_invite():
    form = InviteAdminForm()
    me = _me()
    if form.validate_on_submit():
        try:
            user = ops.invite_admin(me, form.email.data)
        except ops.AccountError as error:
            db.session.rollback()
            form.email.errors.append(str(error))
        else:
            db.session.commit()
            flash(f"Invitation emailed to {user.email}. The link works for "
                  f"{current_app.config.get('ADMIN_INVITE_HOURS', 72)} hours.", "success")
            return redirect(url_for("admin.account") + "#admins", code=303)
    return render_template(
        "admin/account.html", me=me, sessions=ops.live_sessions(me), current=g.get("admin_session"),
        admins=db.session.scalars(db.select(AdminUser).order_by(AdminUser.created_at, AdminUser.id)).all(),
        codes_left=RecoveryCode.left(me) if me.two_factor_enabled else 0,
        button=ButtonForm(), invite_form=form), 422


@bp.route("/account/admins/<int:user_id>/remove", methods=["GET", "POST"])
def account_remove(user_id: int):
    me, user = _me(), db.get_or_404(AdminUser, user_id)
    back = url_for("admin.account") + "#admins"
    reason = ops.can_remove(me, user)
    if reason:
        flash(reason, "error")
        return redirect(back, code=303)
    form = ButtonForm()
    if request.method == "POST" and request.form.get("confirm") == "1" and form.validate_on_submit():
        email = user.email
        ops.remove_admin(me, user)
        db.session.commit()
        flash(f"{email} can no longer sign in.", "success")
        return redirect(back, code=303)
    facts = [f"{user.email} will no longer be able to sign in; any session they have open ends at once.",
             "What they did stays in the audit log under their address."]
    return render_template("admin/confirm.html", form=form, title=f"Remove the admin {user.email}?",
                           action=url_for("admin.account_remove", user_id=user.id), button="Remove this admin",
                           back=back, told=None, facts=facts, hidden=(), change_label=None)
