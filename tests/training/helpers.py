"""What a view or command does around a training operation: commit it once, or roll back a refusal."""
from __future__ import annotations

from extensions import db
from models.transactions import NotAllowed


def run(operation, *args, **kwargs):
    try:
        result = operation(*args, **kwargs)
    except NotAllowed:
        db.session.rollback()
        raise
    db.session.commit()
    return result
