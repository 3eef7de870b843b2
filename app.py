"""The application factory: `flask --app app …` and gunicorn's `app:create_app()` find it here."""
from __future__ import annotations

from pathlib import Path

from dotenv import load_dotenv
from flask import Flask

import cli
import web
from config import check_settings, derive_settings, load_settings
from extensions import csrf, db, limiter, login_manager, mail, migrate
from mail.thread import init_app as init_outbox_thread
from models.transactions import configure_engine
from web.requests import Portico


def create_app(config: dict | None = None) -> Flask:
    load_dotenv(Path.cwd() / ".env")
    app = Portico(__name__, instance_relative_config=True)
    app.config.update(load_settings(Path(app.instance_path), (config or {}).get("APP_ENV")))
    if config:
        app.config.update(config)
    derive_settings(app.config)
    check_settings(app.config)
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)

    web.init_logging(app)
    register_extensions(app)
    register_blueprints(app)
    web.init_app(app)  # everything that wraps a request, in wrapping order
    cli.init_app(app)
    return app


def register_extensions(app: Flask) -> None:
    db.init_app(app)
    migrate.init_app(app, db, directory=str(Path(__file__).parent / "migrations"), render_as_batch=True)
    csrf.init_app(app)
    mail.init_app(app)
    login_manager.init_app(app)
    limiter.init_app(app)
    with app.app_context():
        configure_engine(db.engine)
    init_outbox_thread(app)  # wakes the delivery thread after commits that queue mail


def register_blueprints(app: Flask) -> None:
    from blueprints.admin import bp as admin_bp
    from blueprints.blog import bp as blog_bp
    from blueprints.cases import bp as cases_bp
    from blueprints.enquiries import bp as enquiries_bp
    from blueprints.invoices import bp as invoices_bp
    from blueprints.payments import bp as payments_bp
    from blueprints.site import bp as site_bp
    from blueprints.training import bp as training_bp

    web.init_converters(app)
    for bp in (site_bp, blog_bp, cases_bp, enquiries_bp, training_bp, invoices_bp, payments_bp, admin_bp):
        app.register_blueprint(bp)
