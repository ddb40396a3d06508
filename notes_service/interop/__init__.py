"""Interoperability: the FHIR R4 export and the measurement-history CSV of a patient."""
