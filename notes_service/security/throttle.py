"""Sign-in throttling: too many failures for one account, or from one address, answer 429.

Attempts are rows of :class:`LoginAttempt`, so every worker process counts the same failures.
An account's count starts again after a successful sign-in; an address's does not (one valid
account must not let its owner keep guessing other people's passwords). Unknown e-mail
addresses are counted exactly like known ones, so the answers never tell which accounts exist.
"""

from __future__ import annotations

import math
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select

from notes_service.db_types import utcnow
from notes_service.errors import DomainError
from notes_service.extensions import db
from notes_service.security.models import LoginAttempt

MESSAGE = "Too many failed sign-ins. Try again in {minutes} minute{s}."


class TooManyAttempts(DomainError):
    """Sign-in refused for a while (429) without checking the password."""

    status = 429

    def __init__(self, retry_after: int):
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__(MESSAGE.format(minutes=minutes, s="" if minutes == 1 else "s"))
        self.retry_after = retry_after


def normalise(email: str) -> str:
    """The e-mail as counted: stripped, lower-case, at most 254 characters."""
    return email.strip().lower()[:254]


def _wait(failures: list, limit: int, window: timedelta, now) -> int:
    """Seconds until fewer than ``limit`` of ``failures`` (newest first) are in the window."""
    if limit <= 0 or len(failures) < limit:
        return 0
    return max(1, math.ceil((failures[limit - 1] + window - now).total_seconds()))


def check(email: str, ip: str | None) -> None:
    """Raise :class:`TooManyAttempts` if this account or address must wait."""
    config = current_app.config
    window = timedelta(minutes=config["LOGIN_THROTTLE_MINUTES"])
    now = utcnow()
    since = now - window
    email = normalise(email)
    last_success = db.session.execute(
        select(func.max(LoginAttempt.at)).where(LoginAttempt.email == email,
                                                LoginAttempt.succeeded.is_(True),
                                                LoginAttempt.at >= since)).scalar()
    account_limit = config["LOGIN_MAX_FAILURES_PER_ACCOUNT"]
    account = db.session.execute(
        select(LoginAttempt.at).where(LoginAttempt.email == email,
                                      LoginAttempt.succeeded.is_(False),
                                      LoginAttempt.at >= max(since, last_success or since))
        .order_by(LoginAttempt.at.desc()).limit(account_limit)).scalars().all()
    wait = _wait(account, account_limit, window, now)
    if ip is not None:
        address_limit = config["LOGIN_MAX_FAILURES_PER_ADDRESS"]
        address = db.session.execute(
            select(LoginAttempt.at).where(LoginAttempt.ip == ip,
                                          LoginAttempt.succeeded.is_(False),
                                          LoginAttempt.at >= since)
            .order_by(LoginAttempt.at.desc()).limit(address_limit)).scalars().all()
        wait = max(wait, _wait(address, address_limit, window, now))
    if wait:
        raise TooManyAttempts(wait)


def note(email: str, ip: str | None, succeeded: bool) -> None:
    """Record an attempt (in the transaction of its audit row)."""
    db.session.add(LoginAttempt(email=normalise(email), ip=ip, succeeded=succeeded,
                                at=utcnow()))
