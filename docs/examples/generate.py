"""Regenerate the example reports in this folder from the demo clinic.

    .venv/bin/python docs/examples/generate.py

Builds the demo clinic in a throw-away SQLite database, writes a progress report (the
"ending soon" patient, 14 visits) and a discharge summary (the discharged patient) through the
same service the API uses, and renders every page to PNG with ``pdftoppm`` (poppler-utils)
when it is installed. Also writes the FHIR R4 bundle and the measurement CSV of the
"improving" patient (whose second note has an addendum and whose last note is a draft).
Dates follow the demo clinic, which is laid out relative to today.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))
os.environ.setdefault("SECRET_KEY", "examples")
os.environ.setdefault("CLINIC_NAME", "Riverside Spine & Sports Clinic")


def main() -> None:
    from flask_migrate import upgrade
    from sqlalchemy import select

    from notes_service import create_app
    from notes_service.auth.models import User
    from notes_service.demo import seed_demo
    from notes_service.extensions import db
    from notes_service.patients.models import Patient
    from notes_service.plans.models import PlanOfCare
    from notes_service.reports.services import create_report, prefill
    from notes_service.visits.models import VisitNote

    with tempfile.TemporaryDirectory() as tmp:
        app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp}/demo.db",
                          "CLINIC_TIMEZONE": "America/New_York",
                          "CLINIC_DETAILS": "418 Riverside Drive, Suite 2 · Springfield · "
                                            "Tel (555) 010-2040 · Fax (555) 010-2041"})
        with app.app_context():
            upgrade()
            seed_demo()
            examples = (("progress", "Lindqvist", "progress-report"),
                        ("discharge", "Martin", "discharge-summary"))
            for kind, family_name, name in examples:
                plan = db.session.execute(
                    select(PlanOfCare).join(Patient)
                    .where(Patient.family_name == family_name)).scalar_one()
                author = db.session.get(User, plan.practitioner_id)
                last_signed = db.session.execute(
                    select(VisitNote.visit_date).where(VisitNote.plan_id == plan.id,
                                                       VisitNote.status == "signed")
                    .order_by(VisitNote.visit_date.desc()).limit(1)).scalar_one()
                form = prefill(author, plan.id, kind)
                data = {"kind": kind, "period_end": last_signed,
                        "assessment": ASSESSMENT[kind], "plan": PLAN[kind]}
                if kind == "discharge":
                    data["home_programme"] = form["home_programme"]
                report = create_report(author, plan.id, data)
                db.session.commit()
                target = HERE / f"{name}.pdf"
                target.write_bytes(db.session.execute(
                    select(type(report).pdf).where(type(report).id == report.id)).scalar_one())
                print(f"wrote {target.relative_to(HERE.parent.parent)}")
                _pages(target)
            _exports(db)


def _exports(db) -> None:
    """The FHIR bundle and the measurement CSV of one demo patient, as their clinician."""
    import json

    from sqlalchemy import select

    from notes_service.auth.models import User
    from notes_service.db_types import utcnow
    from notes_service.interop import fhir
    from notes_service.interop.services import fhir_base_url, load_record, measurements_csv
    from notes_service.patients.models import Patient
    from notes_service.plans.models import PlanOfCare

    patient = db.session.execute(
        select(Patient).where(Patient.family_name == "Gonzalez")).scalar_one()
    plan = db.session.execute(
        select(PlanOfCare).where(PlanOfCare.patient_id == patient.id)).scalar_one()
    clinician = db.session.get(User, plan.practitioner_id)
    bundle = fhir.build_bundle(load_record(clinician, patient.id), base_url=fhir_base_url(),
                               timestamp=utcnow())
    target = HERE / "fhir-bundle.json"
    target.write_text(json.dumps(bundle, indent=1, ensure_ascii=False) + "\n")
    print(f"wrote {target.relative_to(HERE.parent.parent)}")
    text, _ = measurements_csv(clinician, patient.id)
    target = HERE / "measurements.csv"
    target.write_bytes(text.encode())
    print(f"wrote {target.relative_to(HERE.parent.parent)}")
    db.session.rollback()


ASSESSMENT = {
    "progress": (
        "Mr Lindqvist has attended 13 of 16 planned visits. Leg pain has fallen from 7/10 to "
        "3/10 and the right straight-leg raise now reaches 64° before symptoms, against 42° at "
        "the start. He sits through a 45-minute meeting and walks 30 minutes without leg "
        "symptoms. Each session still gives about 2 points of pain relief, most of which is "
        "kept to the next visit, so the gains are consolidating. Neurological screen remains "
        "normal (L5/S1 myotomes, reflexes and sensation intact)."),
    "discharge": (
        "Ms Martin met every goal of the plan: pain 1/10 at rest and with sitting, straight-leg "
        "raise symptom-free beyond 75° on the right, ODI in the minimal disability range. She "
        "has returned to full work duties and running twice a week and manages the occasional "
        "flare with her home programme."),
}
PLAN = {
    "progress": (
        "Continue twice weekly for the remaining 2 weeks of the plan: Active Release Technique "
        "to piriformis and hamstring origin, sciatic nerve sliders progressing to tensioners, "
        "hip-hinge loading to 20 kg. Re-assess ODI and LEFS at the next visit; re-certify for "
        "4 more weeks at 1×/week if the pain goal (≤ 2/10) is not met by the plan end."),
    "discharge": (
        "Discharged to self-management. Return if leg symptoms recur for more than a week, "
        "or at once with new numbness, weakness or bladder/bowel change. Referring physician "
        "informed."),
}


def _pages(pdf: Path) -> None:
    """Render every page as PNG next to the PDF (needs pdftoppm)."""
    if shutil.which("pdftoppm") is None:
        print("pdftoppm not found (apt-get install poppler-utils): no page images")
        return
    for old in HERE.glob(f"{pdf.stem}-page-*.png"):
        old.unlink()
    subprocess.run(["pdftoppm", "-png", "-r", "90", str(pdf), str(HERE / f"{pdf.stem}-page")],
                   check=True)
    for image in sorted(HERE.glob(f"{pdf.stem}-page-*.png")):
        print(f"wrote {image.relative_to(HERE.parent.parent)}")


if __name__ == "__main__":
    main()
