"""The site settings page (/admin/settings): name, tagline, home page hero, consultant, footer, links, zone, locale."""
from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user

from blueprints.admin import bp
from blueprints.admin.forms import SiteSettingsForm
from blueprints.admin.operations import save_site_settings
from extensions import db
from models import site_settings

TEXT_FIELDS = ("site_name", "tagline", "hero_eyebrow", "hero_heading", "hero_text", "consultant_name",
               "consultant_email", "footer_text", "timezone", "locale")


@bp.route("/settings", methods=["GET", "POST"])
def site_settings_page():
    site = site_settings.current()
    form = SiteSettingsForm()
    if request.method == "GET":
        form.fill(site)
    elif form.validate_on_submit():
        calls_to_action, profile_links = form.links()
        if calls_to_action is not None and profile_links is not None:
            values = {name: form[name].data or "" for name in TEXT_FIELDS}
            values.update(calls_to_action=calls_to_action, profile_links=profile_links)
            changed = save_site_settings(current_user, values)
            db.session.commit()
            flash("Settings saved: every page shows them now." if changed else "Nothing changed.", "success")
            return redirect(url_for("admin.site_settings_page"), code=303)
    else:
        form.links()  # the link pairs' own errors too, on the same page
    status = 422 if form.errors else 200
    return render_template("admin/site_settings.html", form=form), status
