"""The clinic's notion of "today" and "now"."""

from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

from flask import current_app, has_app_context


def clinic_today() -> date:
    """Today's date in the clinic's time zone (``CLINIC_TIMEZONE``, else the server's)."""
    zone = current_app.config.get("CLINIC_TIMEZONE") if has_app_context() else None
    return datetime.now(ZoneInfo(zone)).date() if zone else datetime.now().astimezone().date()
