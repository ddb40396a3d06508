"""The signed-in download of a stored report (the web pages link to it from
``templates/reports/_list.html``). Register ``bp`` with the other HTML blueprints."""

from __future__ import annotations

from flask import Blueprint, g
from flask_login import current_user

from notes_service.extensions import db, login_manager
from notes_service.reports import services
from notes_service.reports.api import pdf_response

bp = Blueprint("reports", __name__)


@bp.get("/reports/<int:report_id>.pdf")
def download(report_id: int):
    """The stored PDF, byte for byte; audited as an export (404 outside the user's scope)."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    g.actor = current_user._get_current_object()
    response = pdf_response(services.report_pdf(g.actor, report_id))
    db.session.commit()  # the audit row of the download
    return response
