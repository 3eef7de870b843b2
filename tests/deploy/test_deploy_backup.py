"""`flask backup` and the restore procedure of docs/deploy.md: every enquiry and booking survives."""
from __future__ import annotations

import contextlib
import shutil
import subprocess
from pathlib import Path

from sqlalchemy import select

from extensions import db
from models import Booking, Enquiry
from tests.conftest import running_app
from tests.factories import make_booking, make_course, make_enquiry, make_session


@contextlib.contextmanager
def app_on(url: str, tmp_path: Path, postgres, **config):
    runs = running_app(url, tmp_path, config, postgres)
    app = next(runs)
    try:
        with app.app_context():
            yield app
    finally:
        next(runs, None)


def create_rows() -> dict:
    enquiry = make_enquiry(name="Ada Lovelace", email="ada@example.com", message="Kubernetes audit, please.")
    session = make_session(make_course(title="Docker in a day", slug="docker-in-a-day"), capacity=8)
    bookings = [make_booking(session, name=f"Person {n}", email=f"p{n}@example.com", seats=n) for n in (1, 2, 3)]
    return snapshot() | {"ids": ([enquiry.id], [b.id for b in bookings])}


def snapshot() -> dict:
    enquiries = db.session.scalars(select(Enquiry).order_by(Enquiry.id)).all()
    bookings = db.session.scalars(select(Booking).order_by(Booking.id)).all()
    return {
        "enquiries": [(e.id, e.name, e.email, e.message, e.status, e.created_at) for e in enquiries],
        "bookings": [(b.id, b.session_id, b.name, b.email, b.seats, b.status, b.token_hash, b.created_at) for b in bookings],
    }


def backup(app, *args) -> Path:
    result = app.test_cli_runner().invoke(args=["backup", *args])
    assert result.exit_code == 0, result.output
    path = Path(result.output.split("Backed up to ", 1)[1].split(" (", 1)[0])
    assert path.is_file() and path.stat().st_size > 0
    assert path.stat().st_mode & 0o077 == 0  # personal data: readable by the owner only
    return path


def test_backup_then_restore_keeps_every_enquiry_and_booking(tmp_path, database_url, postgres):
    if postgres is None:
        restore_sqlite(tmp_path)
    else:
        restore_postgres(tmp_path, postgres)


def restore_sqlite(tmp_path):
    live = tmp_path / "instance" / "portico.db"
    live.parent.mkdir()
    url = f"sqlite:///{live}"
    with app_on(url, tmp_path, None) as app:
        before = create_rows()
        app.instance_path = str(tmp_path / "instance")
        file = backup(app)  # the default: instance/backups/portico-<time>.db
        assert file.parent == tmp_path / "instance" / "backups" and file.suffix == ".db"
        make_enquiry(name="After the backup")  # not in the backup, and must not come back
        db.engine.dispose()

    # The documented procedure: stop the site, remove the database with its WAL files, copy the backup in.
    for path in (live, Path(f"{live}-wal"), Path(f"{live}-shm")):
        path.unlink(missing_ok=True)
    shutil.copyfile(file, live)

    with app_on(url, tmp_path, None) as app:
        after = snapshot()
        assert after["enquiries"] == before["enquiries"] and len(after["enquiries"]) == 1
        assert after["bookings"] == before["bookings"] and len(after["bookings"]) == 3
        assert app.test_client().get("/healthz").status_code == 200


def restore_postgres(tmp_path, postgres):
    with app_on(postgres.url, tmp_path, postgres) as app:
        before = create_rows()
        file = backup(app, str(tmp_path))  # a folder: a timestamped file inside it
        assert file.parent == tmp_path and file.suffix == ".dump"

    restored = postgres.new_database()
    libpq_url = restored.replace("postgresql+psycopg://", "postgresql://")
    subprocess.run(["pg_restore", "--no-owner", f"--dbname={libpq_url}", str(file)], check=True, capture_output=True)
    with app_on(restored, tmp_path, postgres) as app:
        after = snapshot()
        assert after == {k: v for k, v in before.items() if k != "ids"}
        assert len(after["enquiries"]) == 1 and len(after["bookings"]) == 3
        assert app.test_client().get("/healthz").status_code == 200


def test_backup_refuses_to_overwrite(app, runner, tmp_path):
    target = tmp_path / "existing.db"
    target.write_text("keep me")
    result = runner.invoke(args=["backup", str(target)])
    assert result.exit_code != 0
    assert "already exists" in result.output
    assert target.read_text() == "keep me"


def test_postgres_without_pg_dump_explains(app, runner, tmp_path, monkeypatch):
    app.config["SQLALCHEMY_DATABASE_URI"] = "postgresql+psycopg://someone@db.example/portico"
    monkeypatch.setattr(shutil, "which", lambda name: None)
    result = runner.invoke(args=["backup", str(tmp_path)])
    assert result.exit_code != 0
    assert "pg_dump --format=custom" in result.output and "pg_restore" in result.output
    assert not list(tmp_path.glob("*.dump"))


def test_in_memory_database_cannot_be_backed_up(app, runner, tmp_path):
    app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
    result = runner.invoke(args=["backup", str(tmp_path)])
    assert result.exit_code != 0
    assert "no SQLite database file" in result.output
