"""Sign in, sign out, the dashboard, the content overview and the audit log."""
from __future__ import annotations

from flask import current_app, flash, has_request_context, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user
from sqlalchemy import func, select

from blueprints.admin import account_operations as account_ops
from blueprints.admin import bp, paginate
from blueprints.admin.forms import LoginForm, LogoutForm
from blueprints.admin.operations import authenticate, failed_logins, is_safe_next
from extensions import db, limiter
from models import (
    AuditLog,
    Booking,
    Comment,
    Course,
    Enquiry,
    Invoice,
    OutboxMessage,
    Post,
    Service,
    TrainingSession,
    utcnow,
)

AUDIT_PER_PAGE = 50
LOGIN_FAILED = ("That email and password do not match an account, or there were too many attempts from your network "
                "for a while. Please try again in a few minutes.")


@bp.app_template_global()
def has_endpoint(name: str) -> bool:
    """Lets the admin nav link to areas only once they exist."""
    return name in current_app.view_functions


@bp.app_context_processor
def admin_context():
    # Templates render outside requests too (emails queued by the CLI or a worker).
    return {"logout_form": LogoutForm()} if has_request_context() and request.blueprint == "admin" else {}


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(lambda: current_app.config.get("ADMIN_LOGIN_RATE_LIMIT", "5/minute"), methods=["POST"])
def login():
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
    if current_user.is_authenticated and request.method == "GET":
        return redirect(url_for("admin.dashboard"))
    if form.validate_on_submit():
        user = authenticate(form.email.data, form.password.data, request.remote_addr)
        if user is None:
            current_app.logger.info("admin login refused ip=%s", request.remote_addr)
            flash(LOGIN_FAILED, "error")
            return render_template("admin/login.html", form=form), 200
        target = form.next.data if is_safe_next(form.next.data) else url_for("admin.dashboard")
        if user.two_factor_enabled:
            # Not signed in yet: the code from the authenticator comes next (blueprints/admin/account.py).
            account_ops.begin_second_step(user, target)
            db.session.commit()
            return redirect(url_for("admin.login_code"), code=303)
        account_ops.complete_sign_in(user)
        db.session.commit()
        return redirect(target, code=303)
    return render_template("admin/login.html", form=form, signed_out=request.args.get("signed_out") == "1",
                           password_set=request.args.get("password_set") == "1")


@bp.post("/logout")
def logout():
    form = LogoutForm()
    if not form.validate_on_submit():
        flash("Your session form expired; please sign out again.", "error")
        return redirect(url_for("admin.dashboard"), code=303)
    user = current_user._get_current_object()
    # A new token ends this session everywhere, even for a copied cookie.
    user.rotate_session_token()
    AuditLog.record(user, "admin.logout")
    db.session.commit()
    logout_user()
    session.clear()
    # The notice rides in the URL, not a flash: the browser drops this response's cookies with the rest.
    response = redirect(url_for("admin.login", signed_out=1), code=303)
    # What the browser kept of the admin (cached pages, cookies, storage) goes too: a shared computer shows nothing.
    response.headers["Clear-Site-Data"] = '"cache", "cookies", "storage"'
    return response


@bp.get("/")
def dashboard():
    now = utcnow()
    counts = {
        "enquiries": db.session.scalar(select(func.count()).select_from(Enquiry).where(Enquiry.status == Enquiry.NEW,
                                                                                      Enquiry.live())),
        "held": db.session.scalar(select(func.count()).select_from(Enquiry).where(Enquiry.status == Enquiry.HELD,
                                                                                 Enquiry.live())),
        "bookings": db.session.scalar(select(func.count()).select_from(Booking).where(Booking.status == Booking.PENDING)),
        "comments": db.session.scalar(select(func.count()).select_from(Comment).where(Comment.status == Comment.PENDING,
                                                                                     Comment.live())),
        "failed": db.session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == OutboxMessage.FAILED)
        ),
    }
    sessions = db.session.execute(
        TrainingSession.with_seats(select(TrainingSession))
        .where(TrainingSession.status == TrainingSession.SCHEDULED, TrainingSession.starts_at > now, TrainingSession.live())
        .order_by(TrainingSession.starts_at, TrainingSession.id)
        .limit(5)
    ).all()
    from blueprints.invoices.operations import local_today

    today = local_today(now)
    overdue = db.session.scalars(Invoice.overdue_query(today).limit(20)).all()
    activity = db.session.scalars(select(AuditLog).order_by(AuditLog.created_at.desc(), AuditLog.id.desc()).limit(10)).all()
    return render_template("admin/dashboard.html", counts=counts, sessions=sessions, activity=activity,
                           failed=failed_logins(now), overdue=overdue, today=today)


@bp.get("/audit")
def audit_log():
    action = (request.args.get("action") or "").strip()[:80]
    query = select(AuditLog).order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
    if action:
        query = query.where(AuditLog.action.startswith(action, autoescape=True))
    entries = paginate(query, AUDIT_PER_PAGE)
    return render_template("admin/audit.html", entries=entries, action=action)


@bp.get("/content")
def content():
    posts = db.session.scalars(select(Post).where(Post.live())
                               .order_by(Post.published_at.desc().nulls_first(), Post.id.desc())).all()
    services = db.session.scalars(Service.ordered()).all()
    courses = db.session.scalars(select(Course).where(Course.live()).order_by(Course.position, Course.title)).all()
    return render_template("admin/content.html", posts=posts, services=services, courses=courses, now=utcnow())
