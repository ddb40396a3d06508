"""The practitioner web app: shared page helpers, the role-aware start page and the wiring of
every HTML blueprint."""

from __future__ import annotations

from flask import Blueprint, Flask

bp = Blueprint("web", __name__)


def register_web(app: Flask) -> None:
    """Register the HTML blueprints, their settings, layout context and filters."""
    #: Minutes without activity before a signed-in session is signed out (HIPAA automatic logoff).
    app.config.setdefault("SESSION_IDLE_MINUTES", 15)
    #: Hours a note typed into an expired session is kept for its author to sign in again.
    app.config.setdefault("PENDING_FORM_HOURS", 12)
    #: Folder of those kept notes (default: ``instance/pending-forms``).
    app.config.setdefault("PENDING_FORM_DIR", None)

    from notes_service.auth import views as auth_views
    from notes_service.extensions import login_manager
    from notes_service.patients import views as patient_views
    from notes_service.plans import views as plan_views
    from notes_service.portal import views as portal_views
    from notes_service.progress.views import register_progress_pages
    from notes_service.reports import views as report_views
    from notes_service.visits import views as visit_views
    from notes_service.web import views  # noqa: F401  (routes on ``bp``)
    from notes_service.web.pages import register_page_helpers

    login_manager.login_view = "auth.login"
    # No generic "please sign in" flash: the sign-in page says it, and an expired session has
    # its own, more useful, message (signed out for inactivity, note kept).
    login_manager.login_message = None
    for blueprint in (auth_views.bp, bp, patient_views.bp, plan_views.bp, visit_views.bp,
                      report_views.bp):
        app.register_blueprint(blueprint)
    register_progress_pages(app)
    app.jinja_env.globals["report_links_for"] = report_views.report_links_for
    app.register_blueprint(portal_views.bp)
    register_page_helpers(app)
