"""An invoice or credit note as a PDF, rendered once, when it is issued (WeasyPrint: HTML + CSS -> PDF).

WeasyPrint because the invoice is an HTML/CSS template in the site's own look, rendered on the
server with no browser: it lays out paged media (page size, margins, running footers) from CSS,
embeds the fonts it used (the PDF reads the same on every machine) and needs only Pango at run
time (Debian: libpango-1.0-0, libpangoft2-1.0-0 and a font). The PDF is stored with the invoice,
so a later change to the template or the business details never changes one already sent.
"""
from __future__ import annotations

import logging

from flask import render_template

from models.invoices import Invoice

# WeasyPrint logs each rendering step at INFO; the app's log wants only what went wrong.
logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)


def render_pdf(invoice: Invoice) -> bytes:
    from weasyprint import CSS, HTML  # imported on first use: the app starts without loading Pango

    html = render_template("invoices/document.html", invoice=invoice)
    css = render_template("invoices/document.css")
    return HTML(string=html).write_pdf(stylesheets=[CSS(string=css)])
