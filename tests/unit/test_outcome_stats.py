"""The SQL quartiles of ``outcomes.stats`` against Python's ``statistics.quantiles`` (the same
linear interpolation as PostgreSQL's ``percentile_cont``), on an in-memory SQLite table."""

from statistics import quantiles

import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from notes_service.outcomes.stats import (
    count_from,
    count_of,
    cumulative,
    histogram_part,
    quantile,
    sum_of,
    with_totals,
)

metadata = sa.MetaData()
values = sa.Table("values", metadata, sa.Column("grp", sa.Integer), sa.Column("v", sa.Float),
                  sa.Column("w", sa.Float))


@pytest.fixture(scope="module")
def engine():
    engine = sa.create_engine("sqlite://")
    metadata.create_all(engine)
    return engine


def figures(engine, rows):
    with engine.begin() as connection:
        connection.execute(values.delete())
        if rows:
            connection.execute(values.insert(), [{"grp": g, "v": v, "w": v * 2} for g, v in rows])
        histogram = with_totals(
            [histogram_part("v", [values.c.grp], values.c.v, [], {"w": values.c.w}, ("w",))],
            "grp", (), ("w",))
        cum = cumulative(histogram, ("grp",))
        stmt = sa.select(cum.c.grp, count_of(cum, "v").label("n"),
                         *[quantile(cum, "v", q).label(f"q{q}") for q in (1, 2, 3)],
                         sum_of(cum, "v", "w").label("w"),
                         count_from(cum, "v", cum.c.v >= 5).label("five")).group_by(cum.c.grp)
        return {row.grp: row for row in connection.execute(stmt)}


def expected(data):
    if len(data) == 1:
        return [data[0]] * 3
    return quantiles(data, n=4, method="inclusive")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 3),
                          st.one_of(st.integers(-10, 10).map(float),
                                    st.sampled_from([0.5, 2.25, 7.75, -1.5]))),
                min_size=1, max_size=40))
def test_quartiles_match_python_for_every_group_and_the_whole(engine, rows):
    result = figures(engine, rows)
    groups = {g: [v for gg, v in rows if gg == g] for g, _ in rows}
    groups[None] = [v for _, v in rows]
    assert set(result) == set(groups)
    for group, data in groups.items():
        row = result[group]
        assert row.n == len(data)
        assert [row.q1, row.q2, row.q3] == pytest.approx(expected(sorted(data)))
        assert row.w == pytest.approx(2 * sum(data))
        assert row.five == sum(v >= 5 for v in data)


def test_worked_example(engine):
    # 1, 3, 3, 3, 4, 4, 4, 4: Q1 at 1.75 → 3; median at 3.5 → 3.5; Q3 at 5.25 → 4.
    result = figures(engine, [(1, v) for v in (4, 4, 4, 3, 3, 3, 4, 1)])[None]
    assert (result.q1, result.q2, result.q3) == (3.0, 3.5, 4.0)


def test_no_values_no_rows(engine):
    assert figures(engine, []) == {}
