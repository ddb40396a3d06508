"""Security headers on every response.

- ``Content-Security-Policy``: pages load scripts, styles, images and fonts from this site only;
  no inline script, no inline style, no plugins, no ``<base>``, forms post only here, and no
  framing (``frame-ancestors 'none'``, with ``X-Frame-Options: DENY`` for old browsers). SVG
  charts get a policy of their own that allows their embedded ``<style>`` and nothing else.
  Other answers (JSON, CSV, PDF) get ``default-src 'none'``.
- ``X-Content-Type-Options: nosniff``, ``Referrer-Policy: same-origin``,
  ``Cross-Origin-Opener-Policy: same-origin``, a restrictive ``Permissions-Policy``.
- ``Cache-Control: no-store`` on every answer that did not choose its own: pages and API
  answers carry patient data and must not be kept by a browser or proxy. Charts keep
  ``private, no-cache`` with their ETag (stored privately, but revalidated with the server,
  which re-checks access, on every use); static files keep Flask's revalidation.
- ``Strict-Transport-Security`` on answers served over HTTPS (``request.is_secure``; behind a
  TLS-terminating proxy set ``TRUSTED_PROXY_COUNT`` so the forwarded scheme is believed).
"""

from __future__ import annotations

from flask import Flask, Response, current_app, request

PAGE_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
               "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
               "form-action 'self'; frame-ancestors 'none'")
SVG_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
OTHER_POLICY = "default-src 'none'; frame-ancestors 'none'"


def policy_for(mimetype: str | None) -> str:
    """The Content-Security-Policy of an answer of this media type."""
    if mimetype == "text/html":
        return PAGE_POLICY
    if mimetype == "image/svg+xml":
        return SVG_POLICY
    return OTHER_POLICY


def add_security_headers(response: Response) -> Response:
    """``after_request``: the headers above (those a view set itself are kept)."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", policy_for(response.mimetype))
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.endpoint != "static" and "Cache-Control" not in headers:
        headers["Cache-Control"] = "no-store"
    if request.is_secure:
        headers.setdefault("Strict-Transport-Security",
                           f"max-age={current_app.config['HSTS_SECONDS']}; includeSubDomains")
    return response


def register_headers(app: Flask) -> None:
    """Add the headers to every answer, errors included."""
    app.after_request(add_security_headers)
