"""The site settings row, from the environment's defaults (SITE_NAME, CONSULTANT_NAME, CONSULTANT_EMAIL, SITE_TIMEZONE)."""
from __future__ import annotations


def seed_site_settings() -> int:
    """Make the row if there is none (1), else leave what the consultant saved alone (0)."""
    from extensions import db
    from models import site_settings
    from models.site_settings import SiteSettings

    if db.session.get(SiteSettings, site_settings.ROW_ID) is not None:
        return 0
    db.session.add(SiteSettings(id=site_settings.ROW_ID, **site_settings.defaults()))
    return 1
