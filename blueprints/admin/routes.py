# Placeholder endpoint (admin.login); the admin issue builds the area out.
from flask import render_template

from blueprints.admin import bp


@bp.get("/login")
def login():
    return render_template("admin/login.html")
