# Placeholder endpoint (contact.form); the contact issue builds it out.
from flask import render_template

from blueprints.contact import bp


@bp.get("/contact", endpoint="form")
def contact_form():
    return render_template("contact/form.html")
