"""The measure catalog and questionnaire scoring (clinical-reference.md §2), without an app."""

import pytest

from notes_service.catalog import (
    HIGHER,
    LOWER,
    MEASURES,
    QUESTIONNAIRES,
    SPECIAL_TESTS,
    lefs_score,
    odi_score,
    psfs_score,
)

#: The table of clinical-reference.md §2: code → (min, max, sided, better, threshold).
REFERENCE = {
    "pain": (0, 10, False, LOWER, 2), "pain_worst": (0, 10, False, LOWER, 2),
    "pain_best": (0, 10, False, LOWER, 2), "odi": (0, 100, False, LOWER, 10),
    "lefs": (0, 80, False, HIGHER, 9), "psfs": (0, 10, False, HIGHER, 2),
    "slr": (0, 120, True, HIGHER, 10), "lumbar_flexion": (0, 120, False, HIGHER, 8),
    "lumbar_extension": (0, 60, False, HIGHER, 5), "lumbar_side_bend": (0, 60, True, HIGHER, 5),
    "hip_flexion": (0, 150, True, HIGHER, 8), "hip_ir": (0, 70, True, HIGHER, 8),
    "hip_er": (0, 90, True, HIGHER, 8),
}


def test_catalog_matches_the_clinical_reference():
    assert list(MEASURES) == list(REFERENCE)
    for code, (low, high, sided, better, threshold) in REFERENCE.items():
        entry = MEASURES[code]
        assert (entry.minimum, entry.maximum, entry.sided, entry.better, entry.threshold) == (
            low, high, sided, better, threshold), code


def test_special_tests_of_the_reference():
    assert set(SPECIAL_TESTS) == {"slr_test", "crossed_slr", "slump", "faber", "fair",
                                  "seated_piriformis"}


def test_catalog_is_read_only():
    with pytest.raises(TypeError):
        MEASURES["grip"] = MEASURES["pain"]


@pytest.mark.parametrize("items, score", [
    ([0] * 10, 0.0), ([5] * 10, 100.0), ([1] * 10, 20.0),
    ([3, 2, 3, 2, 4, 2, 3, 1, 2, 3], 50.0),
    ([3, 2, 3, 2, 4, 2, 3, None, 2, 3], 53.3),  # 24 / 45 × 100
    ([None, 0, 0, 0, 0, 0, 0, 0, 0, 0], 0.0),
    ([None, 5, 5, 5, 5, 5, 5, 5, 5, 5], 100.0),
])
def test_odi_score(items, score):
    assert odi_score(items) == score


@pytest.mark.parametrize("items", [[None, None] + [1] * 8, [None] * 10, [1] * 9, [1] * 11])
def test_odi_has_no_score_with_more_than_one_item_missing_or_a_wrong_count(items):
    assert odi_score(items) is None


def test_lefs_and_psfs_scores():
    assert lefs_score([4] * 20) == 80.0 and lefs_score([0] * 20) == 0.0
    assert psfs_score([4, 7, 2.5]) == 4.5
    assert psfs_score([3, 3, 4]) == 3.33


def test_questionnaires_are_measures_of_the_same_code():
    for code, spec in QUESTIONNAIRES.items():
        assert code in MEASURES
    assert (QUESTIONNAIRES["odi"].item_count, QUESTIONNAIRES["odi"].item_max) == (10, 5)
    assert (QUESTIONNAIRES["lefs"].item_count, QUESTIONNAIRES["lefs"].item_max) == (20, 4)


def test_direction_of_improvement():
    pain, slr = MEASURES["pain"], MEASURES["slr"]
    assert pain.improvement(7, 4) == 3 and slr.improvement(40, 55) == 15
    assert pain.meets(2, 2) and not pain.meets(3, 2)
    assert slr.meets(70, 70) and not slr.meets(69, 70)
    assert (pain.goal_comparator, slr.goal_comparator) == ("≤", "≥")


def test_value_formatting():
    assert MEASURES["slr"].format_value(42.0) == "42°"
    assert MEASURES["odi"].format_value(53.33) == "53.3%"
    assert MEASURES["pain"].format_value(None) == "—"
