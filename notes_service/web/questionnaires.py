"""Wording of the questionnaire forms (the items and their scoring live in ``catalog``)."""

from __future__ import annotations

from notes_service.catalog import QUESTIONNAIRES

#: Lower Extremity Functional Scale: "Today, do you or would you have any difficulty at all
#: with…" (Binkley 1999), answered 0 (extreme difficulty or unable) to 4 (no difficulty).
LEFS_ITEMS = (
    "Any of your usual work, housework or school activities",
    "Your usual hobbies, recreational or sporting activities",
    "Getting into or out of the bath",
    "Walking between rooms",
    "Putting on your shoes or socks",
    "Squatting",
    "Lifting an object, like a bag of groceries, from the floor",
    "Performing light activities around your home",
    "Performing heavy activities around your home",
    "Getting into or out of a car",
    "Walking 2 blocks",
    "Walking a mile",
    "Going up or down 10 stairs (about 1 flight)",
    "Standing for 1 hour",
    "Sitting for 1 hour",
    "Running on even ground",
    "Running on uneven ground",
    "Making sharp turns while running fast",
    "Hopping",
    "Rolling over in bed",
)
assert len(LEFS_ITEMS) == QUESTIONNAIRES["lefs"].item_count

LEFS_SCALE = "0 = extreme difficulty or unable · 4 = no difficulty"
ODI_SCALE = "0 = no problem · 5 = most severe statement"
#: Activities of the Patient-Specific Functional Scale (one to five).
PSFS_SLOTS = 5
PSFS_SCALE = "0 = unable to perform · 10 = able to perform at prior level"
