"""Keep a note form that arrived after the session expired, and give it back after sign-in.

A clinician who types a note for twenty minutes and then finds the session timed out must not
lose it. When a note form is posted without a valid sign-in, its fields are written to a file
in the instance folder under a random token; only the token goes into the (new) session cookie,
so the note's text never travels in a cookie and only the browser that typed it can get it
back. After sign-in the form page takes the stash (once) and shows the form filled in again;
nothing is saved until the clinician saves it, so data posted by another site can never be
filed silently. Stashes expire after ``PENDING_FORM_HOURS``.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from pathlib import Path

from flask import current_app, session

SESSION_KEY = "pending_form"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{32,64}")


def _folder() -> Path:
    folder = Path(current_app.config.get("PENDING_FORM_DIR")
                  or Path(current_app.instance_path) / "pending-forms")
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    return folder


def _path(token: str) -> Path | None:
    if not isinstance(token, str) or not _TOKEN.fullmatch(token):
        return None
    return _folder() / f"{token}.json"


def _sweep(folder: Path) -> None:
    """Remove stashes older than the configured lifetime."""
    limit = time.time() - current_app.config["PENDING_FORM_HOURS"] * 3600
    for path in folder.glob("*.json"):
        try:
            if path.stat().st_mtime < limit:
                path.unlink()
        except FileNotFoundError:  # another worker swept it first
            pass


def stash(endpoint: str, view_args: dict, values: dict[str, list[str]],
          user_id: int | None) -> str:
    """Keep ``values`` of the form posted to ``endpoint``; remember the token in the session."""
    folder = _folder()
    _sweep(folder)
    discard()
    token = secrets.token_urlsafe(32)
    payload = {"endpoint": endpoint, "view_args": view_args, "values": values,
               "user_id": user_id, "stashed_at": time.time()}
    path = folder / f"{token}.json"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(payload, handle)
    session[SESSION_KEY] = token
    return token


def _load(token: str) -> dict | None:
    path = _path(token)
    if path is None:
        return None
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (FileNotFoundError, ValueError):
        return None
    limit = time.time() - current_app.config["PENDING_FORM_HOURS"] * 3600
    if payload.get("stashed_at", 0) < limit:
        path.unlink(missing_ok=True)
        return None
    return payload


def discard() -> None:
    """Forget the session's stash, if any."""
    token = session.pop(SESSION_KEY, None)
    path = _path(token) if token else None
    if path is not None:
        path.unlink(missing_ok=True)


def take(endpoint: str, view_args: dict, user_id: int) -> dict[str, list[str]] | None:
    """Return (and forget) the stashed form of this page for this user, if there is one.

    A stash left by another user (the previous user of a shared workstation) is discarded
    unseen; a stash for another page stays until that page is opened or it expires.
    """
    token = session.get(SESSION_KEY)
    if not token:
        return None
    payload = _load(token)
    if payload is None:
        session.pop(SESSION_KEY, None)
        return None
    if payload.get("user_id") not in (None, user_id):
        discard()
        return None
    if payload.get("endpoint") != endpoint or payload.get("view_args") != view_args:
        return None
    discard()
    values = payload.get("values")
    if not isinstance(values, dict):
        return None
    return {str(k): [str(v) for v in vs] for k, vs in values.items() if isinstance(vs, list)}


def pending_page() -> tuple[str, dict] | None:
    """The page a stash belongs to (endpoint and view arguments), for the post-login redirect."""
    token = session.get(SESSION_KEY)
    payload = _load(token) if token else None
    if payload is None:
        return None
    return payload["endpoint"], payload["view_args"]
