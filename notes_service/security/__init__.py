"""Sessions, sign-in throttling, security headers, break-glass access, backups and the
request-level database retry: the promises of SECURITY.md."""

from __future__ import annotations

from flask import Flask, current_app, request
from werkzeug.exceptions import RequestEntityTooLarge


def refuse_large_bodies():
    """413 for a declared body over ``MAX_CONTENT_LENGTH``."""
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    if limit is not None and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge()


def register_security(app: Flask) -> None:
    """Install the response headers, the proxy settings and the database retry.

    Called last in :func:`notes_service.create_app`, once every view is registered.
    """
    from notes_service.audit import views as audit_views
    from notes_service.security import headers, retry, views

    # First of all hooks: a body larger than MAX_CONTENT_LENGTH is refused before any work,
    # whatever the route (Werkzeug alone refuses it only when a view reads the body).
    app.before_request_funcs.setdefault(None, []).insert(0, refuse_large_bodies)
    app.register_blueprint(views.bp)
    app.register_blueprint(audit_views.bp)
    headers.register_headers(app)
    retry.register_retry(app)
    proxies = app.config.get("TRUSTED_PROXY_COUNT", 0)
    if proxies:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Only behind a proxy we run: X-Forwarded-* from anyone else would let a client pick
        # its own address (defeating the per-address throttle) or fake HTTPS.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=proxies, x_proto=proxies, x_host=proxies)
