"""Progress reports and discharge summaries: generated from the record, signed, stored as PDF
and never changed (a correction is a new report)."""
