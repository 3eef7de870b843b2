"""Archive, restore and delete, for every kind in blueprints/admin/archiving.py KINDS.

/admin/<kind>s/<id>/archive and /delete show a confirmation page (what it affects, or why it cannot
happen) on GET or on a POST without confirm=1, and act on the POST from that page's own button;
/restore is one POST (it undoes an archive). Endpoints are named per kind (admin.post_archive …),
so the admin bar marks the section each belongs to. Each section has an Archived list.
"""
from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from blueprints.admin import archiving as ops
from blueprints.admin import bp
from blueprints.admin.forms import ConfirmForm
from extensions import db
from models.archive import ARCHIVE, DELETE
from models.transactions import NotAllowed

WORDS = {ARCHIVE: ("Archive", "archived"), DELETE: ("Delete", "deleted")}


def _confirm(kind: ops.Kind, action: str, row_id: int):
    row = db.get_or_404(kind.model, row_id)
    form = ConfirmForm()
    if request.method == "POST" and not form.validate_on_submit():
        abort(400)
    back = kind.edit(row)
    label = kind.label(row)
    if action == ARCHIVE and row.is_archived:
        flash(f"This {row.noun} is already archived.", "warning")
        return redirect(back, code=303)
    blocked = row.blocked_by(action)
    if request.method == "POST" and request.form.get("confirm") == "1" and not blocked:
        try:
            (ops.archive if action == ARCHIVE else ops.delete)(kind, row, current_user._get_current_object())
        except NotAllowed as refused:  # changed meanwhile (someone booked)
            db.session.rollback()
            flash(str(refused), "warning")
            return redirect(back, code=303)
        db.session.commit()
        if kind.name == "enquiry" and action == DELETE:
            flash("The enquiry's person was erased; the enquiry is under Archived, anonymised.", "success")
        else:
            flash(f"“{label}” {WORDS[action][1]}." + (" Restore it from Archived." if action == ARCHIVE else ""),
                  "success")
        return redirect(url_for(kind.listing), code=303)
    verb = WORDS[action][0]
    if kind.name == "enquiry" and action == DELETE:
        verb = "Delete (erase)"
    if blocked:
        return render_template("admin/confirm.html", form=form, title=f"“{label}” cannot be {WORDS[action][1]}",
                               facts=blocked, action=None, button=None, back=back, told=None, hidden=(),
                               change_label=None), 409 if request.method == "POST" else 200
    return render_template("admin/confirm.html", form=form, title=f"{verb} “{label}”?", facts=kind.facts(row, action),
                           action=kind.url(action, row), button=f"Yes, {verb.lower()} it", back=back, told=None,
                           hidden=(), change_label=None)


def _restore(kind: ops.Kind, row_id: int):
    row = db.get_or_404(kind.model, row_id)
    if not ConfirmForm().validate_on_submit():
        abort(400)
    try:
        ops.restore(kind, row, current_user._get_current_object())
    except NotAllowed as refused:
        db.session.rollback()
        flash(str(refused), "warning")
    else:
        db.session.commit()
        flash(f"“{kind.label(row)}” restored.", "success")
    if request.form.get("back") == "list":
        return redirect(url_for(kind.archived), code=303)
    return redirect(kind.edit(row), code=303)


def _register(kind: ops.Kind) -> None:
    rule = f"/{kind.plural}/<int:{kind.arg}>"

    def archive_view(**values):
        return _confirm(kind, ARCHIVE, values[kind.arg])

    def delete_view(**values):
        return _confirm(kind, DELETE, values[kind.arg])

    def restore_view(**values):
        return _restore(kind, values[kind.arg])

    bp.add_url_rule(f"{rule}/archive", f"{kind.name}_archive", archive_view, methods=["GET", "POST"])
    bp.add_url_rule(f"{rule}/delete", f"{kind.name}_delete", delete_view, methods=["GET", "POST"])
    bp.add_url_rule(f"{rule}/restore", f"{kind.name}_restore", restore_view, methods=["POST"])


for _kind in ops.KINDS.values():
    _register(_kind)


def _archived_list(section: str):
    title, names = ops.SECTIONS[section]
    groups = [(ops.KINDS[name], ops.archived_rows(ops.KINDS[name])) for name in names]
    return render_template("admin/archived.html", title=title, groups=groups, form=ConfirmForm(formdata=None),
                           back=url_for(ops.KINDS[names[0]].listing))


@bp.get("/content/archived")
def content_archived():
    return _archived_list("content")


@bp.get("/comments/archived")
def comments_archived():
    return _archived_list("comments")


@bp.get("/sessions/archived")
def sessions_archived():
    return _archived_list("sessions")


@bp.get("/enquiries/archived")
def enquiries_archived():
    return _archived_list("enquiries")
