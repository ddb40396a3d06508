"""The clinical catalog: measures, special tests, interventions, questionnaires, diagnoses.

Declared once here and read everywhere (validation, forms, progress rules, charts, exports),
following ``clinical-reference.md`` §2 and §5. Thresholds are defaults; a clinic may override
them through ``PROGRESS_THRESHOLDS`` in its configuration.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType

LOWER = "lower"
HIGHER = "higher"
SIDES = ("left", "right")
PHASES = ("pre", "post")


@dataclass(frozen=True)
class Measure:
    """One measure of the catalog."""

    code: str
    label: str
    short_label: str
    unit: str
    minimum: float
    maximum: float
    sided: bool
    better: str
    #: Smallest change treated as real (MCID, or MDC where no MCID exists).
    threshold: float
    #: Normal reference value for charts and reports, if the literature gives one.
    normal: float | None = None
    #: Label of the normal reference (e.g. "normal 110–120°").
    normal_label: str | None = None
    #: Patient-facing wording, free of clinical jargon.
    plain_label: str | None = None
    group: str = "range of motion"

    @property
    def unit_symbol(self) -> str:
        """Unit as printed after a number."""
        return {"deg": "°", "%": "%", "score": "/10", "points": " pts"}.get(self.unit, self.unit)

    def format_value(self, value: float | None) -> str:
        """Format a value with its unit, without needless decimals."""
        if value is None:
            return "—"
        text = f"{value:.1f}".rstrip("0").rstrip(".")
        return f"{text}{self.unit_symbol}"

    def improvement(self, earlier: float, later: float) -> float:
        """Signed change from ``earlier`` to ``later``: positive means better."""
        return later - earlier if self.better == HIGHER else earlier - later

    def meets(self, value: float, target: float) -> bool:
        """Whether ``value`` reaches ``target`` in the better direction."""
        return value >= target if self.better == HIGHER else value <= target

    @property
    def goal_comparator(self) -> str:
        """The comparator a goal on this measure uses ("≤" or "≥")."""
        return "≥" if self.better == HIGHER else "≤"


_MEASURES = (
    Measure("pain", "Pain now, 0–10 numeric rating (NPRS)", "Pain now", "score", 0, 10, False,
            LOWER, 2, plain_label="Pain (0 = no pain, 10 = worst imaginable)", group="pain"),
    Measure("pain_worst", "Worst pain, last 24 h (NPRS)", "Worst pain 24 h", "score", 0, 10,
            False, LOWER, 2, plain_label="Worst pain in the last day", group="pain"),
    Measure("pain_best", "Least pain, last 24 h (NPRS)", "Least pain 24 h", "score", 0, 10,
            False, LOWER, 2, plain_label="Least pain in the last day", group="pain"),
    Measure("odi", "Oswestry Disability Index", "ODI", "%", 0, 100, False, LOWER, 10,
            plain_label="Back-pain disability score (lower is better)", group="questionnaire"),
    Measure("lefs", "Lower Extremity Functional Scale", "LEFS", "points", 0, 80, False, HIGHER, 9,
            plain_label="Leg function score (higher is better)", group="questionnaire"),
    Measure("psfs", "Patient-Specific Functional Scale, mean of activities", "PSFS", "score", 0,
            10, False, HIGHER, 2, plain_label="Your chosen activities (10 = as before)",
            group="questionnaire"),
    Measure("slr", "Straight-leg raise, angle at symptom onset", "SLR", "deg", 0, 120, True,
            HIGHER, 10, normal=70, normal_label="symptom-free beyond 70°",
            plain_label="Leg raise before symptoms start"),
    Measure("lumbar_flexion", "Lumbar flexion (inclinometer)", "Lumbar flexion", "deg", 0, 120,
            False, HIGHER, 8, normal=50, normal_label="normal ≈ 50°",
            plain_label="Bending forward"),
    Measure("lumbar_extension", "Lumbar extension", "Lumbar extension", "deg", 0, 60, False,
            HIGHER, 5, normal=15, normal_label="normal ≈ 15°", plain_label="Bending backward"),
    Measure("lumbar_side_bend", "Lumbar side-bending", "Lumbar side-bend", "deg", 0, 60, True,
            HIGHER, 5, normal=20, normal_label="normal ≈ 20°", plain_label="Bending sideways"),
    Measure("hip_flexion", "Hip flexion", "Hip flexion", "deg", 0, 150, True, HIGHER, 8,
            normal=115, normal_label="normal 110–120°", plain_label="Lifting the knee"),
    Measure("hip_ir", "Hip internal rotation", "Hip IR", "deg", 0, 70, True, HIGHER, 8,
            normal=35, normal_label="normal 30–40°", plain_label="Turning the hip in"),
    Measure("hip_er", "Hip external rotation", "Hip ER", "deg", 0, 90, True, HIGHER, 8,
            normal=50, normal_label="normal 40–60°", plain_label="Turning the hip out"),
)

#: The measure catalog, by code, in display order.
MEASURES: MappingProxyType[str, Measure] = MappingProxyType({m.code: m for m in _MEASURES})


def measure(code: str) -> Measure:
    """Return the catalog entry for ``code`` (KeyError for an unknown code)."""
    return MEASURES[code]


@dataclass(frozen=True)
class SpecialTest:
    """A structured special test."""

    code: str
    label: str
    sided: bool = True


SPECIAL_TESTS: MappingProxyType[str, SpecialTest] = MappingProxyType({t.code: t for t in (
    SpecialTest("slr_test", "Straight-leg raise"),
    SpecialTest("crossed_slr", "Crossed straight-leg raise"),
    SpecialTest("slump", "Slump test"),
    SpecialTest("faber", "FABER (Patrick's test)"),
    SpecialTest("fair", "FAIR (piriformis)"),
    SpecialTest("seated_piriformis", "Seated piriformis stretch"),
)})

TEST_RESULTS = ("positive", "negative")

#: Coded interventions, with the CPT code most often billed for them.
INTERVENTIONS: MappingProxyType[str, tuple[str, str | None]] = MappingProxyType({
    "art": ("Active Release Technique", "97140"),
    "manual_therapy": ("Manual therapy / joint mobilisation", "97140"),
    "spinal_manipulation": ("Spinal manipulation", "98940"),
    "nerve_glides": ("Nerve glides (neurodynamics)", "97112"),
    "dry_needling": ("Dry needling", "20560"),
    "cupping": ("Cupping", "97140"),
    "instrument_assisted": ("Instrument-assisted soft-tissue mobilisation", "97140"),
    "therapeutic_exercise": ("Therapeutic exercise", "97110"),
    "neuromuscular_reeducation": ("Neuromuscular re-education", "97112"),
    "therapeutic_activities": ("Therapeutic activities", "97530"),
    "traction": ("Mechanical traction", "97012"),
    "e_stim": ("Electrical stimulation (e-stim)", "97014"),
    "heat_ice": ("Heat / ice", "97010"),
    "education": ("Patient education", None),
})


@dataclass(frozen=True)
class Questionnaire:
    """A scored outcome questionnaire; its score is stored as the measure of the same code."""

    code: str
    label: str
    item_count: int | None
    item_min: int
    item_max: int


QUESTIONNAIRES: MappingProxyType[str, Questionnaire] = MappingProxyType({q.code: q for q in (
    Questionnaire("odi", "Oswestry Disability Index", 10, 0, 5),
    Questionnaire("lefs", "Lower Extremity Functional Scale", 20, 0, 4),
    Questionnaire("psfs", "Patient-Specific Functional Scale", None, 0, 10),
)})

ODI_SECTIONS = (
    "Pain intensity", "Personal care", "Lifting", "Walking", "Sitting",
    "Standing", "Sleeping", "Sex life (if applicable)", "Social life", "Travelling",
)


def odi_score(items: list[int | None]) -> float | None:
    """Score the ODI from its ten 0–5 items: sum ×2, or ÷45 ×100 with one item missing.

    With more than one item missing there is no score (``clinical-reference.md`` §2).
    """
    answered = [i for i in items if i is not None]
    missing = len(items) - len(answered)
    if len(items) != 10 or missing > 1:
        return None
    return round(sum(answered) / (5 * len(answered)) * 100, 1)


def lefs_score(items: list[int]) -> float:
    """Score the LEFS: the sum of its twenty 0–4 items (0–80)."""
    return float(sum(items))


def psfs_score(scores: list[float]) -> float:
    """Score the PSFS: the mean of the activity scores (0–10)."""
    return round(sum(scores) / len(scores), 2)


#: A short, sciatica-focused ICD-10-CM pick list; free entry of other codes is allowed.
ICD10_CODES: MappingProxyType[str, str] = MappingProxyType({
    "M54.30": "Sciatica, unspecified side",
    "M54.31": "Sciatica, right side",
    "M54.32": "Sciatica, left side",
    "M54.40": "Lumbago with sciatica, unspecified side",
    "M54.41": "Lumbago with sciatica, right side",
    "M54.42": "Lumbago with sciatica, left side",
    "M51.16": "Intervertebral disc disorder with radiculopathy, lumbar region",
    "M51.17": "Intervertebral disc disorder with radiculopathy, lumbosacral region",
    "G57.01": "Lesion of sciatic nerve, right lower limb",
    "G57.02": "Lesion of sciatic nerve, left lower limb",
    "M99.03": "Segmental and somatic dysfunction of lumbar region",
    "M54.50": "Low back pain, unspecified",
})

BODY_REGIONS = ("lumbar", "lumbosacral", "hip", "thoracic", "cervical", "knee", "ankle_foot",
                "shoulder")
PLAN_SIDES = ("left", "right", "bilateral")
PLAN_STATUSES = ("active", "on_hold", "discharged", "cancelled")
DISCHARGE_REASONS = ("goals_met", "plateau", "patient_request", "referred", "non_attendance",
                     "insurance", "other")
