"""Progress of measures within a plan of care: pure rules (:mod:`.rules`) and charts
(:mod:`.charts`, imported explicitly so the rules never pull in matplotlib)."""

from notes_service.progress.rules import (
    DEFAULT_SETTINGS,
    FLAG_CODES,
    STATUSES,
    Flag,
    GoalSpec,
    MeasureProgress,
    PlanProgress,
    PlanSnapshot,
    Point,
    Settings,
    measure_progress,
    plan_flags,
    plan_progress,
)

__all__ = [
    "DEFAULT_SETTINGS", "FLAG_CODES", "STATUSES", "Flag", "GoalSpec", "MeasureProgress",
    "PlanProgress", "PlanSnapshot", "Point", "Settings", "measure_progress", "plan_flags",
    "plan_progress",
]
