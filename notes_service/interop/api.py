"""Export routes of the JSON API: the FHIR R4 bundle and the measurement-history CSV."""

import json

from flask import Response, g

from notes_service.api import api_route
from notes_service.interop import services

FHIR_JSON = "application/fhir+json"


@api_route("/patients/<int:patient_id>/fhir",
           summary="Export the patient's record as a FHIR R4 Bundle (collection)",
           tag="exports", media_type=FHIR_JSON, errors=(401, 404))
def export_fhir(patient_id):
    bundle = services.fhir_bundle(g.actor, patient_id)
    return Response(json.dumps(bundle, ensure_ascii=False),
                    mimetype=FHIR_JSON, headers={
                        "Content-Type": f"{FHIR_JSON}; fhirVersion=4.0; charset=utf-8",
                        "Cache-Control": "private, no-store"})


@api_route("/patients/<int:patient_id>/measurements.csv",
           summary="Export the patient's measurement history as CSV (one row per measurement)",
           tag="exports", media_type="text/csv", errors=(401, 404))
def export_measurements_csv(patient_id):
    text, filename = services.measurements_csv(g.actor, patient_id)
    return Response(text.encode("utf-8"), headers={
        "Content-Type": "text/csv; charset=utf-8; header=present",
        "Content-Disposition": f'attachment; filename="{filename}"',
        "Cache-Control": "private, no-store",
        "X-Content-Type-Options": "nosniff"})
