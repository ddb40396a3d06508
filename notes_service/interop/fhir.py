"""A patient's record as a FHIR R4 Bundle of type ``collection``.

Pure: loaded objects in, a JSON-ready dict out (no queries, no Flask). Every entry has a
``urn:uuid:`` fullUrl derived from the service's base URL and the row (uuid5), so the same
record always exports with the same ids, and every reference points at an entry of the bundle.

Resources: Patient; a Practitioner per care-team member, plan owner, note author or signer;
per plan of care a Condition (ICD-10-CM), a CarePlan and its Goals (``achievementStatus`` from
the progress engine); per visit an Encounter, an Observation per measurement and per special
test, a QuestionnaireResponse per outcome questionnaire; per signed note a DocumentReference
(LOINC 11506-3, the note as text); per stored report a DocumentReference (11506-3 progress
note or 18842-5 discharge summary, the PDF).

**Before/after treatment (test → treat → retest).** The phase of a measurement is recorded as
the extension ``<base>/StructureDefinition/treatment-phase`` whose ``valueCoding`` comes from
the code system ``<base>/CodeSystem/treatment-phase`` (``pre`` "Before treatment", ``post``
"After treatment (retest)"). An extension, not a component or ``method``: the value *is* the
observation (a component would split one value over two places) and ``method`` says how it
was measured (inclinometer, NPRS), not when. So that a receiver that ignores extensions still
tells the two apart, ``code.text`` of a retest ends with "(after treatment)".
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterable
from datetime import datetime

from notes_service.catalog import (
    INTERVENTIONS,
    MEASURES,
    ODI_SECTIONS,
    SPECIAL_TESTS,
)
from notes_service.progress.rules import PlanProgress

__all__ = ["DEFAULT_BASE_URL", "ICD10_SYSTEM", "LOINC", "build_bundle", "note_text"]

#: Base of the service's own code systems and identifier systems unless ``FHIR_BASE_URL`` is
#: configured (a clinic sets it to a URL it controls).
DEFAULT_BASE_URL = "https://notes-service.invalid/fhir"

ICD10_SYSTEM = "http://hl7.org/fhir/sid/icd-10-cm"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
CPT = "http://www.ama-assn.org/go/cpt"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
GOAL_ACHIEVEMENT = "http://terminology.hl7.org/CodeSystem/goal-achievement"
CONDITION_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
CONDITION_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
CONDITION_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"

PAIN_LOINC = {"system": LOINC, "code": "72514-3",
              "display": "Pain severity - 0-10 verbal numeric rating [Score] - Reported"}
PROGRESS_NOTE_LOINC = {"system": LOINC, "code": "11506-3", "display": "Progress note"}
DISCHARGE_SUMMARY_LOINC = {"system": LOINC, "code": "18842-5", "display": "Discharge summary"}

#: UCUM code of each catalog unit.
UCUM_UNITS = {"score": "{score}", "points": "{score}", "deg": "deg", "%": "%"}

#: Laterality as SNOMED CT qualifier values.
LATERALITY = {"left": ("7771000", "Left"), "right": ("24028007", "Right")}
TEST_RESULT = {"positive": ("10828004", "Positive"), "negative": ("260385009", "Negative")}
PHASE_DISPLAY = {"pre": "Before treatment", "post": "After treatment (retest)"}

#: Progress status → Goal.achievementStatus.
ACHIEVEMENT = {
    "goal_met": ("achieved", "Achieved"),
    "improving": ("improving", "Improving"),
    "worsening": ("worsening", "Worsening"),
    "plateau": ("no-change", "No Change"),
    "insufficient_data": ("in-progress", "In Progress"),
}
CARE_PLAN_STATUS = {"active": "active", "on_hold": "on-hold", "discharged": "completed",
                    "cancelled": "revoked"}
ACTIVITY_STATUS = {"active": "in-progress", "on_hold": "on-hold", "discharged": "completed",
                   "cancelled": "cancelled"}
GOAL_LIFECYCLE = {"active": "active", "on_hold": "on-hold", "discharged": "completed",
                  "cancelled": "cancelled"}


class _Ids:
    """Stable ``urn:uuid`` ids: uuid5 of the base URL, the resource type and the row's key."""

    def __init__(self, base_url: str):
        self.namespace = uuid.uuid5(uuid.NAMESPACE_URL, base_url)

    def id(self, resource_type: str, *key) -> str:
        return str(uuid.uuid5(self.namespace, "/".join([resource_type, *map(str, key)])))

    def url(self, resource_type: str, *key) -> str:
        return f"urn:uuid:{self.id(resource_type, *key)}"

    def ref(self, resource_type: str, *key, display: str | None = None) -> dict:
        reference = {"reference": self.url(resource_type, *key)}
        if display:
            reference["display"] = display
        return reference


def _coding(system: str, code: str, display: str | None = None) -> dict:
    coding = {"system": system, "code": code}
    if display:
        coding["display"] = display
    return coding


def _concept(*codings: dict, text: str | None = None) -> dict:
    concept: dict = {}
    if codings:
        concept["coding"] = list(codings)
    if text:
        concept["text"] = text
    return concept


def _quantity(value: float, unit: str) -> dict:
    code = UCUM_UNITS.get(unit, unit)
    number = int(value) if float(value).is_integer() else value
    return {"value": number, "unit": code, "system": UCUM, "code": code}


def _instant(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _laterality(side: str | None) -> dict | None:
    if side not in LATERALITY:
        return None
    code, display = LATERALITY[side]
    return _concept(_coding(SNOMED, code, display), text=side)


class _Builder:
    def __init__(self, loaded, base_url: str):
        self.record = loaded
        self.base = base_url
        self.ids = _Ids(base_url)
        self.entries: list[dict] = []
        patient = loaded.patient
        self.patient_ref = self.ids.ref("Patient", patient.id, display=patient.full_name)

    # -- helpers -------------------------------------------------------------------------

    def system(self, name: str) -> str:
        return f"{self.base}/CodeSystem/{name}"

    def add(self, resource: dict, *key) -> None:
        resource_type = resource["resourceType"]
        resource_id = self.ids.id(resource_type, *key)
        self.entries.append({"fullUrl": f"urn:uuid:{resource_id}",
                             "resource": {"resourceType": resource_type, "id": resource_id,
                                          **{k: v for k, v in resource.items()
                                             if k != "resourceType"}}})

    def practitioner(self, user) -> dict:
        return self.ids.ref("Practitioner", user.id, display=user.display_name)

    def phase_extension(self, phase: str) -> list[dict]:
        return [{"url": f"{self.base}/StructureDefinition/treatment-phase",
                 "valueCoding": _coding(self.system("treatment-phase"), phase,
                                        PHASE_DISPLAY[phase])}]

    # -- resources -----------------------------------------------------------------------

    def patient(self) -> None:
        p = self.record.patient
        identifiers = [{"system": f"{self.base}/sid/patient", "value": str(p.id)}]
        if p.mrn:
            identifiers.insert(0, {
                "use": "usual", "type": _concept(_coding(IDENTIFIER_TYPE, "MR",
                                                         "Medical record number")),
                "system": f"{self.base}/sid/mrn", "value": p.mrn})
        resource = {"resourceType": "Patient", "identifier": identifiers, "active": True,
                    "name": [{"use": "official", "family": p.family_name,
                              "given": [p.given_name]}],
                    "gender": p.sex, "birthDate": p.birth_date.isoformat()}
        telecom = []
        if p.phone:
            telecom.append({"system": "phone", "value": p.phone})
        if p.email:
            telecom.append({"system": "email", "value": p.email})
        if telecom:
            resource["telecom"] = telecom
        self.add(resource, p.id)

    def practitioners(self) -> None:
        for user in self.record.practitioners:
            resource = {"resourceType": "Practitioner",
                        "identifier": [{"system": f"{self.base}/sid/user",
                                        "value": str(user.id)}],
                        "active": user.active, "name": [{"text": user.name}]}
            if user.credentials:
                resource["qualification"] = [{"code": {"text": user.credentials}}]
            self.add(resource, user.id)

    def plan(self, plan, progress: PlanProgress | None) -> None:
        condition_ref = self.ids.ref("Condition", plan.id,
                                     display=f"{plan.diagnosis_code} {plan.diagnosis_text}")
        resolved = plan.status == "discharged" and plan.discharge_reason == "goals_met"
        condition = {
            "resourceType": "Condition",
            "clinicalStatus": _concept(_coding(CONDITION_CLINICAL,
                                               "resolved" if resolved else "active")),
            "verificationStatus": _concept(_coding(CONDITION_VERIFICATION, "confirmed")),
            "category": [_concept(_coding(CONDITION_CATEGORY, "encounter-diagnosis",
                                          "Encounter Diagnosis"))],
            "code": _concept(_coding(ICD10_SYSTEM, plan.diagnosis_code, plan.diagnosis_text),
                             text=plan.diagnosis_text),
            "subject": self.patient_ref,
            "recordedDate": plan.created_at.date().isoformat(),
            "recorder": self.practitioner(plan.practitioner),
        }
        site = " ".join(filter(None, (plan.side, plan.body_region)))
        if site:
            condition["bodySite"] = [_concept(text=site.replace("_", " "))]
        if resolved and plan.discharge_date:
            condition["abatementDateTime"] = plan.discharge_date.isoformat()
        self.add(condition, plan.id)

        by_key = {(m.measure, m.side): m for m in (progress.measures if progress else [])}
        goal_refs = []
        for goal in plan.goals:
            goal_refs.append(self.ids.ref("Goal", goal.id))
            self.goal(plan, goal, by_key, condition_ref)

        period = {"start": plan.start_date.isoformat(),
                  "end": (plan.discharge_date or plan.end_date).isoformat()}
        activity_status = ACTIVITY_STATUS[plan.status]
        activities = []
        for code in plan.planned_interventions or []:
            label, cpt = INTERVENTIONS.get(code, (code, None))
            codings = [_coding(self.system("intervention"), code, label)]
            if cpt:
                codings.append(_coding(CPT, cpt))
            activities.append({"detail": {
                "code": _concept(*codings, text=label), "status": activity_status,
                "scheduledTiming": {"repeat": {"frequency": plan.visits_per_week, "period": 1,
                                               "periodUnit": "wk",
                                               "boundsPeriod": period}}}})
        careplan = {
            "resourceType": "CarePlan",
            "status": CARE_PLAN_STATUS[plan.status], "intent": "plan",
            "title": f"Plan of care: {plan.diagnosis_code} {plan.diagnosis_text}",
            "description": (f"{plan.weeks} weeks, {plan.visits_per_week} visits a week "
                            f"({plan.planned_visits} visits)"
                            + ("; maintenance plan since "
                               f"{plan.maintenance_since.isoformat()}"
                               if plan.maintenance_since else "")),
            "subject": self.patient_ref, "period": period,
            "created": plan.created_at.date().isoformat(),
            "author": self.practitioner(plan.practitioner),
            "addresses": [condition_ref], "goal": goal_refs,
        }
        if activities:
            careplan["activity"] = activities
        if plan.status == "discharged" and plan.discharge_reason:
            careplan["note"] = [{"text": f"Discharged {plan.discharge_date}: "
                                         f"{plan.discharge_reason.replace('_', ' ')}"
                                         + (f". {plan.discharge_note}"
                                            if plan.discharge_note else "")}]
        self.add(careplan, plan.id)

    def goal(self, plan, goal, by_key, condition_ref) -> None:
        m = MEASURES[goal.measure]
        sides = [goal.side] if goal.side or not m.sided else ["left", "right"]
        measured = [by_key[(goal.measure, s)] for s in sides if (goal.measure, s) in by_key]
        measured = [mp for mp in measured if mp.series]
        label = m.short_label + (f" ({goal.side})" if goal.side else "")
        text = f"{label} {m.goal_comparator} {m.format_value(goal.target)}"
        if goal.description:
            text += f": {goal.description}"
        bound = "low" if m.better == "higher" else "high"
        target = {
            "measure": self.measure_code(goal.measure),
            "detailRange": {bound: _quantity(goal.target, m.unit)},
            "dueDate": (goal.target_date or plan.end_date).isoformat(),
        }
        resource = {
            "resourceType": "Goal",
            "lifecycleStatus": GOAL_LIFECYCLE[plan.status],
            "description": _concept(text=text),
            "subject": self.patient_ref,
            "startDate": plan.start_date.isoformat(),
            "target": [target],
            "expressedBy": self.practitioner(plan.practitioner),
            "addresses": [condition_ref],
        }
        achievement = self.achievement(plan, measured)
        if achievement:
            resource["achievementStatus"] = _concept(_coding(GOAL_ACHIEVEMENT, *achievement))
        # The latest before-treatment value of each side the goal covers.
        outcomes = [self.latest_refs[(mp.measure, mp.side)] for mp in measured
                    if (mp.measure, mp.side) in self.latest_refs]
        if outcomes:
            resource["outcomeReference"] = outcomes
        if goal.term:
            resource["category"] = [_concept(text=f"{goal.term}-term goal")]
        self.add(resource, goal.id)

    @staticmethod
    def achievement(plan, measured) -> tuple[str, str] | None:
        """Goal.achievementStatus: the least favourable side's status (all sides to be met)."""
        if not measured:
            return None
        rank = ["worsening", "plateau", "insufficient_data", "improving", "goal_met"]
        status = min((mp.status for mp in measured), key=rank.index)
        if plan.status == "discharged" and status != "goal_met":
            return ("not-achieved", "Not Achieved")
        if plan.maintenance_since is not None and status in ("plateau", "improving"):
            return ("sustaining", "Sustaining")
        return ACHIEVEMENT[status]

    def measure_code(self, code: str) -> dict:
        m = MEASURES[code]
        codings = [_coding(self.system("measure"), code, m.label)]
        if code == "pain":
            codings.insert(0, dict(PAIN_LOINC))
        return _concept(*codings, text=m.label)

    def visit(self, note, plan) -> None:
        encounter_ref = self.ids.ref("Encounter", note.id)
        author = self.practitioner(note.author)
        day = note.visit_date.isoformat()
        self.add({
            "resourceType": "Encounter", "status": "finished",
            "class": _coding(ACT_CODE, "AMB", "ambulatory"),
            "type": [_concept(text="Plan-of-care treatment visit")],
            "subject": self.patient_ref,
            "participant": [{"individual": author}],
            "period": {"start": day, "end": day},
            "reasonReference": [self.ids.ref("Condition", note.plan_id)],
        }, note.id)
        status = "final" if note.is_signed else "preliminary"
        careplan_ref = self.ids.ref("CarePlan", note.plan_id)
        questionnaire_refs = {}
        for q in note.questionnaires:
            questionnaire_refs[q.instrument] = self.ids.ref("QuestionnaireResponse", q.id)
            self.questionnaire(note, q, encounter_ref)
        for m in note.measurements:
            entry = MEASURES[m.measure]
            text = entry.label + (f", {m.side}" if m.side else "") + (
                " (after treatment)" if m.phase == "post" else "")
            code = self.measure_code(m.measure)
            code["text"] = text
            category = "survey" if entry.group in ("pain", "questionnaire") else "exam"
            resource = {
                "resourceType": "Observation",
                "extension": self.phase_extension(m.phase),
                "status": status,
                "category": [_concept(_coding(OBSERVATION_CATEGORY, category))],
                "code": code, "subject": self.patient_ref, "encounter": encounter_ref,
                "basedOn": [careplan_ref],
                "effectiveDateTime": day, "performer": [author],
                "valueQuantity": _quantity(m.value, entry.unit),
            }
            site = _laterality(m.side)
            if site:
                resource["bodySite"] = site
            if entry.normal_label:
                resource["referenceRange"] = [{"text": entry.normal_label}]
            if m.measure in questionnaire_refs and m.phase == "pre" and m.side is None:
                resource["derivedFrom"] = [questionnaire_refs[m.measure]]
            self.add(resource, "m", m.id)
            if m.phase == "pre":
                self.latest_refs[(m.measure, m.side)] = self.ids.ref("Observation", "m", m.id)
        for t in note.special_tests:
            test = SPECIAL_TESTS.get(t.test)
            label = test.label if test else t.test
            result_code, result_display = TEST_RESULT[t.result]
            resource = {
                "resourceType": "Observation",
                "extension": self.phase_extension(t.phase),
                "status": status,
                "category": [_concept(_coding(OBSERVATION_CATEGORY, "exam"))],
                "code": _concept(_coding(self.system("special-test"), t.test, label),
                                 text=label + (f", {t.side}" if t.side else "")
                                 + (" (after treatment)" if t.phase == "post" else "")),
                "subject": self.patient_ref, "encounter": encounter_ref,
                "basedOn": [careplan_ref],
                "effectiveDateTime": day, "performer": [author],
                "valueCodeableConcept": _concept(_coding(SNOMED, result_code, result_display),
                                                 text=t.result),
            }
            site = _laterality(t.side)
            if site:
                resource["bodySite"] = site
            if t.angle is not None:
                resource["component"] = [{
                    "code": _concept(_coding(self.system("special-test"), "angle_at_onset",
                                             "Angle at symptom onset")),
                    "valueQuantity": _quantity(t.angle, "deg")}]
            self.add(resource, "t", t.id)
        if note.is_signed:
            self.note_document(note, encounter_ref, careplan_ref, plan)

    def questionnaire(self, note, q, encounter_ref) -> None:
        """The answers; the score is the Observation that names this as ``derivedFrom``."""
        items = []
        if q.instrument == "psfs":
            for index, activity in enumerate(q.items or [], start=1):
                items.append({"linkId": f"psfs-{index}", "text": activity["activity"],
                              "answer": [{"valueDecimal": activity["score"]}]})
        else:
            for index, value in enumerate(q.items or [], start=1):
                item = {"linkId": f"{q.instrument}-{index}"}
                if q.instrument == "odi" and index <= len(ODI_SECTIONS):
                    item["text"] = ODI_SECTIONS[index - 1]
                if value is not None:
                    item["answer"] = [{"valueInteger": value}]
                items.append(item)
        resource = {
            "resourceType": "QuestionnaireResponse",
            "questionnaire": f"{self.base}/Questionnaire/{q.instrument}",
            "status": "completed" if note.is_signed else "in-progress",
            "subject": self.patient_ref, "encounter": encounter_ref,
            "authored": note.visit_date.isoformat(),
            "source": self.patient_ref,
            "item": items,
        }
        self.add(resource, q.id)

    def note_document(self, note, encounter_ref, careplan_ref, plan) -> None:
        text = note_text(note, plan, assessment=self.record.shows_assessment)
        day = note.visit_date.isoformat()
        resource = {
            "resourceType": "DocumentReference",
            "status": "current", "docStatus": "amended" if note.addenda else "final",
            "type": _concept(dict(PROGRESS_NOTE_LOINC), text="SOAP progress note"),
            "subject": self.patient_ref, "date": _instant(note.signed_at),
            "author": [self.practitioner(note.author)],
            "authenticator": self.practitioner(note.signed_by or note.author),
            "description": f"SOAP note of the visit on {day}",
            "content": [{"attachment": {
                "contentType": "text/plain; charset=utf-8", "language": "en",
                "data": base64.b64encode(text.encode()).decode(),
                "title": f"Visit note {day}", "creation": _instant(note.signed_at)}}],
            "context": {"encounter": [encounter_ref], "period": {"start": day, "end": day},
                        "related": [careplan_ref]},
        }
        self.add(resource, "note", note.id)

    def report_document(self, report, superseded: set[int]) -> None:
        coding = DISCHARGE_SUMMARY_LOINC if report.kind == "discharge" else PROGRESS_NOTE_LOINC
        pdf = report.pdf
        resource = {
            "resourceType": "DocumentReference",
            "status": "superseded" if report.id in superseded else "current",
            "docStatus": "final",
            "type": _concept(dict(coding), text=report.title),
            "subject": self.patient_ref, "date": _instant(report.signed_at),
            "author": [self.practitioner(report.signed_by)],
            "authenticator": self.practitioner(report.signed_by),
            "description": f"{report.title}, {report.period_start} to {report.period_end}",
            "content": [{"attachment": {
                "contentType": "application/pdf", "language": "en",
                "data": base64.b64encode(pdf).decode(), "size": len(pdf),
                "hash": base64.b64encode(hashlib.sha1(pdf, usedforsecurity=False).digest())
                .decode(),
                "title": report.filename, "creation": _instant(report.signed_at)}}],
            "context": {"period": {"start": report.period_start.isoformat(),
                                   "end": report.period_end.isoformat()},
                        "related": [self.ids.ref("CarePlan", report.plan_id)]},
        }
        if report.corrects_id is not None:
            resource["relatesTo"] = [{"code": "replaces",
                                      "target": self.ids.ref("DocumentReference", "report",
                                                             report.corrects_id)}]
        self.add(resource, "report", report.id)

    def build(self) -> list[dict]:
        self.latest_refs: dict[tuple, dict] = {}
        self.patient()
        self.practitioners()
        plans = {p.id: p for p in self.record.plans}
        # Visits first, so each goal can point at its measure's latest observation.
        visit_entries_start = len(self.entries)
        for note in self.record.notes:
            self.visit(note, plans[note.plan_id])
        visits = self.entries[visit_entries_start:]
        self.entries = self.entries[:visit_entries_start]
        for plan in self.record.plans:
            self.plan(plan, self.record.progress.get(plan.id))
        self.entries.extend(visits)
        superseded = {r.corrects_id for r in self.record.reports if r.corrects_id is not None}
        for report in self.record.reports:
            self.report_document(report, superseded)
        return self.entries


def build_bundle(loaded, *, base_url: str = DEFAULT_BASE_URL,
                 timestamp: datetime | None = None) -> dict:
    """The record as a FHIR R4 ``collection`` Bundle (a JSON-ready dict)."""
    builder = _Builder(loaded, base_url)
    entries = builder.build()
    bundle = {"resourceType": "Bundle",
              "id": builder.ids.id("Bundle", loaded.patient.id,
                                   _instant(timestamp) if timestamp else ""),
              "meta": {"tag": [{"system": f"{base_url}/CodeSystem/export",
                                "code": "patient-record"}]},
              "type": "collection", "entry": entries}
    if timestamp is not None:
        bundle["timestamp"] = _instant(timestamp)
    return bundle


def _lines(title: str, body: str) -> Iterable[str]:
    if body and body.strip():
        yield ""
        yield title
        yield body.strip()


def note_text(note, plan, *, assessment: bool = True) -> str:
    """A signed SOAP note as plain text, addenda labelled, for a DocumentReference.

    ``assessment=False`` leaves the assessment out (a patient's export where the clinic does not
    share it).
    """
    out = [f"SOAP note, visit of {note.visit_date.isoformat()}",
           f"Plan of care: {plan.diagnosis_code} {plan.diagnosis_text}",
           f"Author: {note.author.display_name}"]
    if note.signed_at is not None:
        signer = (note.signed_by or note.author).display_name
        out.append(f"Signed by {signer} at {_instant(note.signed_at)}")
    out += _lines("Subjective", note.subjective)
    out += _lines("Objective", note.objective)
    if note.measurements:
        out += ["", "Measures (before treatment / after treatment)"]
        pairs: dict[tuple, dict] = {}
        for m in note.measurements:
            pairs.setdefault((m.measure, m.side), {})[m.phase] = m.value
        order = list(MEASURES)
        for (code, side), values in sorted(pairs.items(), key=lambda kv: (
                order.index(kv[0][0]) if kv[0][0] in order else 99, kv[0][1] or "")):
            entry = MEASURES[code]
            line = f"- {entry.label}{', ' + side if side else ''}: "
            line += entry.format_value(values.get("pre"))
            if "post" in values:
                line += f" / {entry.format_value(values['post'])} after treatment"
            out.append(line)
    if note.special_tests:
        out += ["", "Special tests"]
        for t in note.special_tests:
            test = SPECIAL_TESTS.get(t.test)
            angle = f" at {t.angle:g}°" if t.angle is not None else ""
            phase = " (after treatment)" if t.phase == "post" else ""
            out.append(f"- {test.label if test else t.test}{', ' + t.side if t.side else ''}: "
                       f"{t.result}{angle}{phase}")
    if note.interventions:
        labels = []
        for code in note.interventions:
            label, cpt = INTERVENTIONS.get(code, (code, None))
            labels.append(f"{label}{' (CPT ' + cpt + ')' if cpt else ''}")
        out += ["", "Interventions", "; ".join(labels)]
    if assessment:
        out += _lines("Assessment", note.assessment)
    out += _lines("Plan", note.plan_text)
    out += _lines("Home programme", note.home_programme)
    for addendum in note.addenda:
        out += ["", f"Addendum by {addendum.author.display_name} at "
                    f"{_instant(addendum.created_at)}", addendum.text]
    return "\n".join(out) + "\n"
