"""Visit-note operations: record, update drafts, sign, add addenda, list."""

from __future__ import annotations

from marshmallow import ValidationError
from sqlalchemy import insert, select
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.attributes import set_committed_value

from notes_service.access import (
    WritablePlan,
    get_plan,
    get_visit,
    get_writable_plan,
    require_clinical_write,
    visible_notes,
)
from notes_service.audit.chain import take_write_lock
from notes_service.audit.services import record
from notes_service.auth.models import User
from notes_service.catalog import lefs_score, odi_score, psfs_score
from notes_service.db_types import utcnow
from notes_service.errors import Conflict, Forbidden
from notes_service.extensions import db
from notes_service.outcomes.summary import mark_plan_stale
from notes_service.plans.services import ensure_version
from notes_service.prepared import Prepared, as_loaded
from notes_service.visits.models import (
    Addendum,
    Measurement,
    QuestionnaireResponse,
    SpecialTestResult,
    VisitNote,
)

#: Eager loads for showing whole notes: a constant number of queries for any number of notes.
NOTE_LOADS = (
    joinedload(VisitNote.author),
    joinedload(VisitNote.signed_by),
    selectinload(VisitNote.measurements),
    selectinload(VisitNote.special_tests),
    selectinload(VisitNote.questionnaires),
    selectinload(VisitNote.addenda).joinedload(Addendum.author),
)

_TEXT_FIELDS = ("subjective", "objective", "assessment", "plan_text", "home_programme")


def score_questionnaire(item: dict) -> tuple[list, float | None]:
    """Return the stored items and the computed score of a validated questionnaire."""
    code = item["instrument"]
    if code == "psfs":
        activities = [{"activity": a["activity"], "score": a["score"]} for a in item["activities"]]
        return activities, psfs_score([a["score"] for a in activities])
    items = item["items"]
    return items, odi_score(items) if code == "odi" else lefs_score(items)


def _as_read_back(measurements: list[Measurement]) -> list[Measurement]:
    """Measurements in the order the relationship reads them back (``VisitNote.measurements``:
    measure, side, phase descending; NULL sides first on SQLite, last on PostgreSQL), so a note
    dumped right after a write is the note read later, without reading it back.

    (measure, side, phase) is unique within a note (the schema refuses a repeat, and a scored
    questionnaire's value may not also be typed), so the order is total.
    """
    nulls_last = db.session.get_bind().dialect.name == "postgresql"
    ordered = sorted(measurements, key=lambda m: m.phase, reverse=True)
    ordered.sort(key=lambda m: (m.measure, (m.side is None) == nulls_last, m.side or ""))
    return ordered


def _apply_clinical_data(note: VisitNote, data: dict, *, new: bool = False
                         ) -> list[dict] | None:
    """Set special tests and questionnaires; return the note's measurements when they change
    (None: they stay), for the caller to store. A questionnaire's score becomes the
    pre-treatment value of the measure of the same code, so progress reads one series.
    ``new``: the note has nothing recorded yet (its collections are left unset)."""
    questionnaires = data.get("questionnaires")
    scored_before = set() if new else {q.instrument for q in note.questionnaires}
    scoring = ({q["instrument"] for q in questionnaires} if questionnaires is not None
               else scored_before)
    # The schema sees only the request; a questionnaire kept from before counts too.
    clash = sorted({m["measure"] for m in data.get("measurements") or []
                    if m["measure"] in scoring and m["phase"] == "pre" and m.get("side") is None})
    if clash:
        raise ValidationError({"measurements": [
            f"{code} is scored from its questionnaire; do not also enter it as a value."
            for code in clash]})
    if questionnaires is not None:
        responses = []
        for item in sorted(questionnaires, key=lambda q: q["instrument"]):  # as read back
            items, score = score_questionnaire(item)
            responses.append(
                QuestionnaireResponse(instrument=item["instrument"], items=items, score=score))
        note.questionnaires = responses
    else:
        responses = [] if new else note.questionnaires
    if data.get("special_tests") is not None:
        note.special_tests = [SpecialTestResult(**t) for t in data["special_tests"]]
    if "measurements" not in data and questionnaires is None:
        return None
    scored = {q.instrument: q.score for q in responses}
    if "measurements" in data:
        typed = [{"measure": m["measure"], "side": m.get("side"), "phase": m["phase"],
                  "value": m["value"]} for m in data["measurements"]]
    elif new:
        typed = []
    else:  # keep the typed values, re-derive the scored ones (also those scored before)
        derived_codes = scored_before | set(scored)
        typed = [{"measure": m.measure, "side": m.side, "phase": m.phase, "value": m.value}
                 for m in note.measurements
                 if not (m.measure in derived_codes and m.phase == "pre" and m.side is None)]
    derived = [{"measure": code, "side": None, "phase": "pre", "value": score}
               for code, score in scored.items() if score is not None]
    return typed + derived


def _check_copied_from(actor: User, patient_id: int, copied_from_id: int | None,
                       note_id: int | None = None) -> None:
    """Refuse a source note the actor cannot see, of another patient, or the note itself."""
    if copied_from_id is None:
        return
    source = None if copied_from_id == note_id else db.session.execute(
        select(VisitNote.id).where(VisitNote.id == copied_from_id, visible_notes(actor),
                                   VisitNote.patient_id == patient_id)).scalar()
    if source is None:
        raise ValidationError({"copied_from_id": ["No such note of this patient."]})


def plan_open_for_notes(actor: User, plan_id: int) -> WritablePlan:
    """Read a plan the actor may document under and that takes notes (else 404, 403, 409)."""
    plan = get_writable_plan(actor, plan_id)
    if plan.status != "active":
        raise Conflict(f"The plan of care is {plan.status.replace('_', ' ')}: resume it before "
                       "documenting visits.")
    return plan


#: Built once (a statement costs more to build than to run). A new note is inserted on the
#: driver's cursor (:mod:`notes_service.prepared`) and then attached to the session as loaded:
#: flushing it through the unit of work costs several times its INSERT. Its measurements'
#: INSERT ... RETURNING is loaded as instances: attaching rows one by one costs more.
_INSERT_NOTE = Prepared(lambda: insert(VisitNote.__table__).returning(VisitNote.__table__.c.id))
_INSERT_MEASUREMENTS = select(Measurement).from_statement(
    insert(Measurement.__table__).returning(*Measurement.__table__.c))
#: The version a new note starts at: the one the mapper's ``version_id_col`` gives an insert.
_FIRST_VERSION = VisitNote.__mapper__.version_id_generator(None)


def record_visit_note(actor: User, plan: WritablePlan | int, data: dict) -> VisitNote:
    """Record a draft note of a visit under an active plan of care.

    ``plan`` is the plan's id, or the plan as :func:`plan_open_for_notes` returned it for this
    actor in this transaction (the API checks it before reading the body; not checked twice).
    The note returned holds everything shown about it, without reading it back.
    """
    if not isinstance(plan, WritablePlan):
        plan = plan_open_for_notes(actor, plan)
    _check_copied_from(actor, plan.patient_id, data.get("copied_from_id"))
    now = utcnow()
    # Every column, as the unit of work would insert it (the next change of the note is
    # checked against its version, as for a note inserted by the unit of work).
    values = {"plan_id": plan.id, "patient_id": plan.patient_id, "author_id": actor.id,
              "visit_date": data["visit_date"], "interventions": data.get("interventions", []),
              "copied_from_id": data.get("copied_from_id"), "status": "draft",
              "signed_by_id": None, "signed_at": None, "created_at": now, "updated_at": now,
              "version": _FIRST_VERSION, **{f: data.get(f, "") for f in _TEXT_FIELDS}}
    session = db.session()
    session.flush()  # as an ORM execute would (a no-op unless something is pending)
    take_write_lock(session)
    (note_id,) = _INSERT_NOTE.insert(session.connection(), values)
    note = as_loaded(session, VisitNote, {"id": note_id, **values})
    # Everything shown about the note, as stored: no need to read it back.
    for key, value in (("author", actor), ("signed_by", None), ("addenda", ()),
                       ("special_tests", ()), ("questionnaires", ())):
        set_committed_value(note, key, value)
    # Special tests and questionnaires (few notes have them) are inserted by the unit of work.
    rows = _apply_clinical_data(note, data, new=True) or []
    session.flush()
    # One multi-row INSERT ... RETURNING: the unit of work would insert the measurements one
    # statement each on SQLite (it needs their ids in order; these need no order). NULL sides
    # are rendered, or each run of rows with and without a side would be a statement of its own.
    measurements = session.execute(
        _INSERT_MEASUREMENTS,
        [{"visit_id": note.id, "plan_id": note.plan_id, **row} for row in rows],
        execution_options={"render_nulls": True}).scalars().all() if rows else []
    set_committed_value(note, "measurements", _as_read_back(measurements))
    mark_plan_stale(note.plan_id)
    record(actor, "create", "visit", patient_id=plan.patient_id, object_id=note.id)
    return note


def load_note(note_id: int) -> VisitNote:
    """Re-read a note with everything shown about it (after a write, unscoped)."""
    db.session.flush()
    return db.session.execute(
        select(VisitNote).where(VisitNote.id == note_id).options(*NOTE_LOADS)
        .execution_options(populate_existing=True)).scalar_one()


def read_visit(actor: User, visit_id: int) -> VisitNote:
    """Load one note with everything shown about it, audited."""
    note = get_visit(actor, visit_id, *NOTE_LOADS)
    record(actor, "read", "visit", patient_id=note.patient_id, object_id=note.id)
    return note


def list_visits(actor: User, plan_id: int) -> list[VisitNote]:
    """A plan's notes by visit date, in a constant number of queries, audited once."""
    plan = get_plan(actor, plan_id)
    notes = list(db.session.execute(
        select(VisitNote).where(VisitNote.plan_id == plan.id, visible_notes(actor))
        .options(*NOTE_LOADS).order_by(VisitNote.visit_date, VisitNote.id)).scalars())
    record(actor, "list", "visit", patient_id=plan.patient_id, object_id=plan.id,
           detail=f"{len(notes)} notes of plan {plan.id}")
    return notes


def draft_for_change(actor: User, visit_id: int) -> VisitNote:
    """Load a draft the actor may change, with its plan of care (else 404, 403, 409)."""
    note = get_visit(actor, visit_id, joinedload(VisitNote.plan_of_care), *NOTE_LOADS)
    require_clinical_write(actor, note.patient_id)
    if note.is_signed:
        raise Conflict("A signed note never changes: add an addendum instead.")
    return note


def update_visit_note(actor: User, note: VisitNote | int, data: dict, dump) -> VisitNote:
    """Change a draft; refused (409, nothing written) when the version read is stale.

    ``note`` is the note's id, or the note as :func:`draft_for_change` returned it for this
    actor in this transaction (the API checks it before reading the body; not loaded twice).
    """
    if not isinstance(note, VisitNote):
        note = draft_for_change(actor, note)
    ensure_version(note, data.pop("version"), dump(note))
    _check_copied_from(actor, note.patient_id, data.get("copied_from_id"), note.id)
    for key in (*_TEXT_FIELDS, "visit_date", "interventions", "copied_from_id"):
        if key in data:
            setattr(note, key, data[key])
    rows = _apply_clinical_data(note, data)
    if rows is not None:
        note.measurements = _as_read_back(
            [Measurement(plan_id=note.plan_id, **row) for row in rows])
    note.updated_at = utcnow()  # the row itself must change so its version moves on
    db.session.flush()  # the version check; the note now holds its new version
    mark_plan_stale(note.plan_id)
    record(actor, "update", "visit", patient_id=note.patient_id, object_id=note.id)
    return note


def missing_for_signature(note: VisitNote) -> dict[str, list[str]]:
    """What a note still lacks before it can be signed."""
    missing: dict[str, list[str]] = {}
    if not note.subjective.strip():
        missing["subjective"] = ["Document what the patient reports before signing."]
    if not note.objective.strip() and not note.measurements and not note.special_tests:
        missing["objective"] = ["Record objective findings or measures before signing."]
    if not note.assessment.strip():
        missing["assessment"] = ["Write your assessment before signing."]
    if not note.plan_text.strip():
        missing["plan"] = ["Write the plan before signing."]
    return missing


def sign_note(actor: User, visit_id: int, version: int | None, dump) -> VisitNote:
    """Sign a complete draft as its author; from then on it never changes."""
    note = draft_for_change(actor, visit_id)
    if note.author_id != actor.id:
        raise Forbidden(f"Only the note's author ({note.author.display_name}) can sign it.")
    ensure_version(note, version, dump(note))
    missing = missing_for_signature(note)
    if missing:
        raise ValidationError(missing)
    note.status = "signed"
    note.signed_by = actor
    note.signed_at = utcnow()
    db.session.flush()
    mark_plan_stale(note.plan_id)
    record(actor, "sign", "visit", patient_id=note.patient_id, object_id=note.id)
    return note


def add_addendum(actor: User, visit_id: int, text: str) -> VisitNote:
    """Add a dated addendum to a signed note; the note itself stays as signed."""
    note = get_visit(actor, visit_id)
    require_clinical_write(actor, note.patient_id)
    if not note.is_signed:
        raise Conflict("The note is still a draft: change it directly instead of adding an "
                       "addendum.")
    addendum = Addendum(visit_id=note.id, author_id=actor.id, text=text.strip(),
                        created_at=utcnow())
    db.session.add(addendum)
    db.session.flush()
    record(actor, "addendum", "visit", patient_id=note.patient_id, object_id=note.id,
           detail=f"addendum {addendum.id}")
    return load_note(note.id)


def previous_note(plan_id: int, before, exclude_id: int | None = None) -> VisitNote | None:
    """The latest note of the plan dated on or before ``before`` (for copy forward)."""
    stmt = (select(VisitNote).where(VisitNote.plan_id == plan_id, VisitNote.visit_date <= before)
            .options(*NOTE_LOADS).order_by(VisitNote.visit_date.desc(), VisitNote.id.desc())
            .limit(1))
    if exclude_id is not None:
        stmt = stmt.where(VisitNote.id != exclude_id)
    return db.session.execute(stmt).scalars().first()
