"""Images in the editors: upload one for a post (its social preview, and to show inline), a service, a course or a
case study; the file is checked, re-encoded and resized by models/media.py and served at /media/<name>."""
from __future__ import annotations

from dataclasses import dataclass

from flask import abort, current_app, flash, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import select

from blueprints.admin import bp
from blueprints.admin.forms import ImageForm, ImageRemoveForm
from extensions import db
from models import AuditLog, CaseStudy, Course, MediaFile, Post, Service
from models.media import ImageRefused, prepare_upload


@dataclass(frozen=True)
class Kind:
    name: str  # the endpoints: admin.<name>_image, admin.<name>_image_remove
    model: type
    editor: str  # the editor's endpoint
    editor_arg: str
    noun: str
    shown: str  # where the image shows, for the page's hint


KINDS = {
    "posts": Kind("post", Post, "admin.post_edit", "post_id", "article",
                  "when the article is shared (its social preview), and inline wherever you paste its Markdown"),
    "services": Kind("service", Service, "admin.service_edit", "service_id", "service", "at the top of the service page"),
    "courses": Kind("course", Course, "admin.course_edit", "course_id", "course", "at the top of the course page"),
    "case-studies": Kind("case_study", CaseStudy, "admin.case_study_edit", "case_id", "case study", "on the case study's page and in the list"),
}


def kind_of(item) -> str:
    return next(name for name, kind in KINDS.items() if isinstance(item, kind.model))


@bp.app_template_global()
def image_form(kind: str) -> ImageForm:
    """A fresh upload form for an editor page (never bound to the editor's own POST)."""
    form = ImageForm(formdata=None)
    if kind != "posts":
        del form.preview
    return form


def uploaded_for(item) -> list[MediaFile]:
    """The images uploaded for this item, newest first (an article's, to paste into its Markdown)."""
    return list(db.session.scalars(select(MediaFile).where(
        MediaFile.used_for == f"{kind_of(item)}:{item.id}", MediaFile.variant_of_id.is_(None))
        .order_by(MediaFile.id.desc()).limit(50)))


bp.app_template_global("uploaded_images")(uploaded_for)


def _item(kind: str, item_id: int):
    if kind not in KINDS:
        abort(404)
    return KINDS[kind], db.get_or_404(KINDS[kind].model, item_id)


def image(kind: str, item_id: int):
    """GET: the item's image and the upload form; POST: upload (a refused file is a form error, never a 500)."""
    spec, item = _item(kind, item_id)
    form = ImageForm()
    if kind != "posts":
        del form.preview
    if form.validate_on_submit():
        limit = current_app.config["IMAGE_MAX_BYTES"]
        raw = form.image.data.read(limit + 1)
        try:
            if len(raw) > limit:
                raise ImageRefused(f"larger than {limit / (1024 * 1024):g} MB")
            renditions = prepare_upload(raw, max_bytes=limit, max_pixels=current_app.config["IMAGE_MAX_PIXELS"])
        except ImageRefused as error:
            form.image.errors.append(f"This file was not stored: {error}.")
        else:
            media = MediaFile.from_upload(renditions, alt=(form.alt.data or "").strip(), decorative=form.decorative.data,
                                          used_for=f"{kind}:{item.id}")
            if kind != "posts" or form.preview.data:
                item.image = media
            db.session.flush()
            AuditLog.record(current_user, "image.upload", item, media=media.name, alt=media.alt,
                            decorative=media.decorative, shown=item.image is media)
            db.session.commit()
            flash(f"Image stored as /media/{media.name} ({media.width}×{media.height}, "
                  f"{len(media.variants)} width{'s' if len(media.variants) != 1 else ''} for screens).", "success")
            return redirect(url_for(spec.editor, **{spec.editor_arg: item.id}, _anchor="image-section"), code=303)
    status = 422 if form.is_submitted() else 200
    return render_template("admin/image.html", form=form, item=item, kind=kind, spec=spec,
                           remove_form=ImageRemoveForm()), status


def image_remove(kind: str, item_id: int):
    spec, item = _item(kind, item_id)
    if not ImageRemoveForm().validate_on_submit():
        abort(400)
    if item.image is not None:
        AuditLog.record(current_user, "image.remove", item, media=item.image.name)
        item.image = None
        db.session.commit()
        flash("The image is no longer shown (the file stays, for any article that shows it inline).", "success")
    return redirect(url_for(spec.editor, **{spec.editor_arg: item.id}, _anchor="image-section"), code=303)


@bp.app_template_global()
def image_endpoint(kind: str, remove: bool = False) -> str:
    return f"admin.{KINDS[kind].name}_image" + ("_remove" if remove else "")


# Endpoints that take an upload (web/security.py lets a file through only to these, and web/requests.py gives
# them a body as large as IMAGE_MAX_BYTES).
UPLOAD_ENDPOINTS = frozenset(image_endpoint(kind) for kind in KINDS)


def _register(kind: str) -> None:
    """One rule and endpoint per kind: a static "/image" segment wins over each editor's own "/<action>" buttons."""
    def upload_view(item_id: int):
        return image(kind, item_id)

    def remove_view(item_id: int):
        return image_remove(kind, item_id)

    name = KINDS[kind].name
    bp.add_url_rule(f"/{kind}/<int:item_id>/image", endpoint=f"{name}_image", view_func=upload_view, methods=["GET", "POST"])
    bp.add_url_rule(f"/{kind}/<int:item_id>/image/remove", endpoint=f"{name}_image_remove", view_func=remove_view,
                    methods=["POST"])


for _kind in KINDS:
    _register(_kind)
