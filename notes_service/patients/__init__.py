"""Patients and their care teams."""
