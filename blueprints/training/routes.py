# Placeholder endpoints (training.index, training.course); the training issue builds them out.
from flask import abort, render_template
from sqlalchemy import select

from blueprints.training import bp
from extensions import db
from models import Course


@bp.get("/training")
def index():
    courses = db.session.scalars(select(Course).order_by(Course.position)).all()
    return render_template("training/index.html", courses=courses)


@bp.get("/training/<slug>")
def course(slug: str):
    item = db.session.scalar(select(Course).where(Course.slug == slug))
    if item is None:
        abort(404)
    return render_template("training/course.html", course=item)
