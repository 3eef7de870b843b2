"""/contact: the enquiry form and its thank-you page."""
from __future__ import annotations

from flask import render_template, request, url_for

from blueprints.enquiries import bp
from blueprints.enquiries.forms import ContactForm
from blueprints.enquiries.operations import REPLY_PROMISE, submit_enquiry, topic_choices
from extensions import limiter
from web.spam import arm, spam_reason, submit_once

FORM_NAME = "contact"


@bp.route("/contact", methods=["GET", "POST"], endpoint="form")
@limiter.limit("5/minute;50/day", methods=["POST"])
def contact_form():
    topics = topic_choices()
    form = ContactForm(topics=topics)
    if request.method == "GET":
        wanted = request.args.get("topic", "")
        if wanted in dict(topics):
            form.topic.data = wanted
        arm(form, FORM_NAME)
    elif form.validate_on_submit():
        def send():
            enquiry = submit_enquiry(
                name=form.name.data, email=form.email.data, company=form.company.data or "",
                topic=form.topic.data, message=form.message.data, spam_reason=spam_reason(form, FORM_NAME),
            )
            # No copy is promised when none was queued (held for review, or spam); held and spam read
            # the same, and neither says why, so a bot learns nothing.
            if enquiry.emails_withheld:
                return url_for("enquiries.thanks", copy=0), None
            return url_for("enquiries.thanks"), None

        return submit_once(form, FORM_NAME, send)  # a double click stores one enquiry
    return render_template("enquiries/form.html", form=form), 422 if form.errors else 200


@bp.get("/contact/thanks", endpoint="thanks")
def thanks():
    return render_template("enquiries/thanks.html", reply_promise=REPLY_PROMISE,
                           copy_sent=request.args.get("copy") != "0")
