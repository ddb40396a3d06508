"""The audit report for directors: filtered, sorted, paginated; the same rows as CSV.

Sort keys and directions are a fixed list (:data:`SORT_KEYS`): a sort parameter never reaches
SQL as text. Rows read by a clinician through a break-glass grant are flagged.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from marshmallow import ValidationError, fields, validate, validates_schema
from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import aliased

from notes_service.audit.models import AuditEvent
from notes_service.audit.services import record
from notes_service.auth.models import User
from notes_service.errors import Forbidden
from notes_service.extensions import db
from notes_service.security.models import BreakGlassGrant
from notes_service.validation import MAX_ID, InputSchema

#: sort parameter → columns (the id breaks ties, so pages never overlap).
SORT_KEYS = {
    "at": (AuditEvent.at,),
    "user": (User.name, AuditEvent.at),
    "patient": (AuditEvent.patient_id, AuditEvent.at),
    "action": (AuditEvent.action, AuditEvent.at),
    "kind": (AuditEvent.kind, AuditEvent.at),
    "outcome": (AuditEvent.outcome, AuditEvent.at),
}
SORTS = tuple(SORT_KEYS) + tuple(f"-{key}" for key in SORT_KEYS)
CSV_LIMIT = 100_000
CSV_HEADER = ("id", "at_utc", "user_id", "user", "patient_id", "kind", "action", "object_id",
              "outcome", "break_glass", "ip", "request", "detail", "row_hash")


class AuditQuerySchema(InputSchema):
    """Filters, sort and page of the audit report (query string)."""

    # Query strings are text: whole numbers written in it are accepted ("12", not "12.0").
    user_id = fields.Integer(strict=False, validate=validate.Range(1, MAX_ID))
    patient_id = fields.Integer(strict=False, validate=validate.Range(1, MAX_ID))
    action = fields.String(validate=validate.Regexp(r"^[a-z_]{1,20}$",
                                                    error="Not a known action."))
    kind = fields.String(validate=validate.Regexp(r"^[a-z_]{1,20}$", error="Not a known kind."))
    outcome = fields.String(validate=validate.OneOf(("ok", "denied")))
    date_from = fields.Date()
    date_to = fields.Date()
    break_glass = fields.Boolean(truthy={"1", "true", "on"}, falsy={"0", "false", ""})
    sort = fields.String(load_default="-at", validate=validate.OneOf(SORTS))
    page = fields.Integer(load_default=1, strict=False, validate=validate.Range(1, 100_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(1, 500))

    @validates_schema
    def _range(self, data, **_kwargs):
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise ValidationError("Must not be before the start date.", "date_to")


@dataclass
class AuditRow:
    """One row of the report."""

    event: AuditEvent
    user_name: str | None
    break_glass: bool


@dataclass
class AuditPage:
    """A page of the report."""

    rows: list[AuditRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _break_glass_flag():
    grant = aliased(BreakGlassGrant)
    return exists().where(grant.user_id == AuditEvent.user_id,
                          grant.patient_id == AuditEvent.patient_id,
                          AuditEvent.at >= grant.granted_at,
                          AuditEvent.at <= grant.expires_at)


def _statement(filters: dict):
    flag = _break_glass_flag().label("break_glass")
    conditions = []
    for name in ("user_id", "patient_id", "action", "kind", "outcome"):
        if filters.get(name) is not None:
            conditions.append(getattr(AuditEvent, name) == filters[name])
    if filters.get("date_from"):
        conditions.append(AuditEvent.at >= _day_start(filters["date_from"]))
    if filters.get("date_to"):
        conditions.append(AuditEvent.at < _day_start(filters["date_to"] + timedelta(days=1)))
    if filters.get("break_glass"):
        conditions.append(_break_glass_flag())
    statement = (select(AuditEvent, User.name, flag)
                 .outerjoin(User, User.id == AuditEvent.user_id)
                 .where(and_(True, *conditions)))
    return statement, conditions


def _ordered(statement, sort: str):
    key = sort.lstrip("-")
    columns = SORT_KEYS[key]
    descending = sort.startswith("-")
    order = [c.desc() if descending else c.asc() for c in columns]
    order.append(AuditEvent.id.desc() if descending else AuditEvent.id.asc())
    return statement.order_by(*order)


def _require_director(actor) -> None:
    if actor is None or actor.role != "director":
        raise Forbidden("The audit report is for clinic directors.", kind="audit")


def describe(filters: dict) -> str:
    """The filters, for the audit row of reading the report."""
    return " ".join(f"{k}={v}" for k, v in sorted(filters.items())
                    if v not in (None, "") and k not in ("page", "per_page"))[:500]


def audit_page(actor, filters: dict) -> AuditPage:
    """One page of the audit log for a director (audited as a read of the log)."""
    _require_director(actor)
    statement, conditions = _statement(filters)
    count = select(func.count()).select_from(AuditEvent).where(and_(True, *conditions))
    total = db.session.execute(count).scalar()
    page, per_page = filters["page"], filters["per_page"]
    found = db.session.execute(_ordered(statement, filters["sort"])
                               .limit(per_page).offset((page - 1) * per_page)).all()
    record(actor, "read", "audit", detail=describe(filters))
    return AuditPage([AuditRow(e, name, bool(flag)) for e, name, flag in found], total, page,
                     per_page)


def audit_csv_rows(actor, filters: dict):
    """Every matching row (at most :data:`CSV_LIMIT`) as CSV cells (audited as an export)."""
    _require_director(actor)
    statement, _ = _statement(filters)
    found = db.session.execute(_ordered(statement, filters["sort"]).limit(CSV_LIMIT)).all()
    record(actor, "export", "audit", detail=describe(filters))
    for event, name, flag in found:
        yield (event.id, event.at.strftime("%Y-%m-%dT%H:%M:%S.%fZ"), event.user_id, name,
               event.patient_id, event.kind, event.action, event.object_id, event.outcome,
               "yes" if flag else "", event.ip, event.request, event.detail, event.row_hash)
