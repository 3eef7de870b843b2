"""/admin/stats: views and visitors per day, pages, sources, referrers, conversions; as charts, tables and CSV."""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, timedelta

from flask import current_app, render_template, request

from blueprints.admin import bp
from blueprints.csv_export import csv_response
from extensions import db
from models import site_settings, stats
from web.stats import Recorder

PERIODS = (7, 30, 365)
DEFAULT_PERIOD = 30
TOP = 20  # rows in each table (the CSV has them all)
# Chart geometry (SVG user units; the chart scales to the width it is given).
WIDTH, HEIGHT, LEFT, BOTTOM, TOP_PAD = 720, 240, 44, 28, 12


def period() -> int:
    days = request.args.get("days", DEFAULT_PERIOD, type=int)
    return days if days in PERIODS else DEFAULT_PERIOD


def site_today() -> date:
    recorder: Recorder | None = current_app.extensions.get("stats")
    if recorder is not None:
        recorder.flush()  # this process's last hits count too
        return recorder.today(time.time())
    from datetime import datetime
    from zoneinfo import ZoneInfo

    return datetime.now(ZoneInfo(site_settings.current().timezone)).date()


def stats_zone() -> str:
    """The zone the statistics' days are counted in: the one this process's recorder started with."""
    recorder: Recorder | None = current_app.extensions.get("stats")
    return recorder.zone.key if recorder is not None else site_settings.current().timezone


def load(days: int) -> stats.Report:
    today = site_today()
    return stats.report(db.session, today - timedelta(days=days - 1), today, today)


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    views_y: float
    views_h: float
    visitors_y: float
    visitors_h: float
    day: date
    views: int
    visitors: int


def nice_ceiling(value: int) -> int:
    """The axis maximum: 1, 2 or 5 times a power of ten, at least `value`."""
    step = 1
    while True:
        for m in (1, 2, 5):
            if m * step >= value:
                return m * step
        step *= 10


def daily_chart(report: stats.Report) -> dict:
    top = nice_ceiling(max((v for _d, v, _u in report.daily), default=0) or 1)
    plot_w, plot_h = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP_PAD
    slot = plot_w / max(len(report.daily), 1)
    gap = slot * 0.2 if slot > 4 else 0
    bars = []
    for i, (day, views, visitors) in enumerate(report.daily):
        vh, uh = plot_h * views / top, plot_h * visitors / top
        bars.append(Bar(round(LEFT + i * slot + gap / 2, 2), round(max(slot - gap, 0.5), 2),
                        round(TOP_PAD + plot_h - vh, 2), round(vh, 2), round(TOP_PAD + plot_h - uh, 2), round(uh, 2),
                        day, views, visitors))
    ticks = [(round(TOP_PAD + plot_h - plot_h * f, 2), int(top * f)) for f in (0, 0.5, 1)]
    return {"bars": bars, "ticks": ticks, "width": WIDTH, "height": HEIGHT, "left": LEFT, "right": WIDTH - 8,
            "baseline": TOP_PAD + plot_h, "label_y": HEIGHT - 8}


def pages_chart(report: stats.Report) -> dict:
    pages = [p for p in report.pages if p["views"]][:10]
    top = nice_ceiling(max((p["views"] for p in pages), default=0) or 1)
    row, label_w, width = 28, 260, WIDTH
    bars = [{"path": p["path"], "views": p["views"], "y": i * row + 4, "text_y": i * row + 19,
             "width": round((width - label_w - 60) * p["views"] / top, 2)} for i, p in enumerate(pages)]
    return {"bars": bars, "width": width, "height": max(len(bars), 1) * row + 8, "label_w": label_w}


@bp.get("/stats")
def stats_page():
    days = period()
    report = load(days)
    return render_template("admin/stats.html", report=report, days=days, periods=PERIODS, top=TOP,
                           daily=daily_chart(report), pages_chart=pages_chart(report),
                           reasons=stats.FILTER_REASONS, kinds=stats.CONVERSION_KINDS, stats_zone=stats_zone())


CSV_COLUMNS = ["Date", "What", "Item", "To", "Views", "Visitors", "Enquiries", "Bookings", "Paid invoices"]


@bp.get("/stats.csv")
def stats_csv():
    """Every row of the period: per day, then per page, source, referrer, article click, filter reason, conversion."""
    days = period()
    report = load(days)
    rows = [[d.isoformat(), "Day", "", "", v, u, "", "", ""] for d, v, u in report.daily]
    rows += [[f"{report.start}..{report.end}", "Page", p["path"], "", p["views"], p["visitors"],
              p[stats.ENQUIRY], p[stats.BOOKING], p[stats.INVOICE]] for p in report.pages]
    rows += [[f"{report.start}..{report.end}", "Source", s["source"], "", s["views"], s["visits"],
              s[stats.ENQUIRY], s[stats.BOOKING], s[stats.INVOICE]] for s in report.sources]
    rows += [[f"{report.start}..{report.end}", "Referrer", r, "", v, u, "", "", ""] for r, v, u in report.referrers]
    rows += [[f"{report.start}..{report.end}", "Article to course", a["path"], course, "", n, "", "", ""]
             for a in report.articles for course, n in a["courses"]]
    rows += [[f"{report.start}..{report.end}", "Filtered", words, "", n, "", "", "", ""]
             for _r, words, n in report.filtered]
    rows += [[d.isoformat(), "Conversion", entry, page, "", "", int(kind == stats.ENQUIRY), int(kind == stats.BOOKING),
              int(kind == stats.INVOICE)] for d, kind, entry, _source, page in report.conversions]
    return csv_response(f"statistics-{report.start}-{report.end}.csv", CSV_COLUMNS, rows)
