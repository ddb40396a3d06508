"""Import every model module, so the metadata (and Alembic) sees all tables."""

from notes_service.audit.models import AuditEvent
from notes_service.auth.models import ApiToken, User
from notes_service.outcomes.models import (  # noqa: F401  (tables for Alembic)
    FlagAcknowledgement,
    MeasureOutcome,
    PlanFlag,
    PlanIntervention,
    PlanOutcome,
)
from notes_service.patients.models import Patient, care_team
from notes_service.plans.models import Goal, PlanOfCare
from notes_service.portal.models import DiaryEntry, PortalInvitation  # noqa: F401
from notes_service.reports.models import ProgressReport  # noqa: F401
from notes_service.security.models import (  # noqa: F401  (tables for Alembic)
    BreakGlassGrant,
    LoginAttempt,
    UserSession,
)
from notes_service.visits.models import (
    Addendum,
    Measurement,
    QuestionnaireResponse,
    SpecialTestResult,
    VisitNote,
)

__all__ = ["Addendum", "ApiToken", "AuditEvent", "Goal", "Measurement", "Patient", "PlanOfCare",
           "QuestionnaireResponse", "SpecialTestResult", "User", "VisitNote", "care_team"]
