"""Quartiles in portable SQL, from histograms (SQLite has no ``percentile_cont``).

Sorting every value of every group costs a sort per value and group; the values reported here
are few and repeat (visits, whole-point pain changes, degrees), so each is first counted per
distinct value in one ``GROUP BY`` pass, and the quartiles are then read off the cumulative counts
of those few hundred histogram rows with window functions.

Interpolation is that of PostgreSQL's ``percentile_cont`` and Python's
``statistics.quantiles(method="inclusive")``: quantile *p* of *n* sorted values sits at 0-based
position ``p·(n − 1)``; a fractional position interpolates linearly between its neighbours.
Positions are counted in quarters so the arithmetic stays in whole numbers on both databases.

A histogram here is a selectable with the grouping keys, ``kind`` (which value), ``v`` (the
value), ``c`` (how many) and any additive sums carried along.
"""

from __future__ import annotations

from sqlalchemy import and_, case, func, literal, null, select, union_all


def histogram_part(kind: str, keys: list, value, where: list, sums: dict | None = None,
                   all_sums: tuple[str, ...] = ()):
    """``SELECT keys, kind, v, count, sums... WHERE value IS NOT NULL GROUP BY keys, v``.

    ``all_sums`` names the sum columns of every part of the union; a part without one of
    them carries 0, so the parts line up.
    """
    sums = sums or {}
    return (select(*keys, literal(kind).label("kind"), value.label("v"),
                   func.count().label("c"),
                   *[(func.sum(sums[name]) if name in sums else literal(0)).label(name)
                     for name in all_sums])
            .where(value.is_not(None), *where).group_by(*keys, value))


def with_totals(parts: list, group: str, keys: tuple[str, ...], all_sums: tuple[str, ...]):
    """The histogram of ``parts`` per ``group`` plus, with ``group`` NULL, the whole cohort's.

    Counts and sums add up, so the totals are re-aggregated from the per-group rows rather than
    from a second pass over the data.
    """
    per = union_all(*parts).cte("per_group")
    c = per.c
    totals = (select(null().label(group), *[c[k] for k in keys], c.kind, c.v,
                     func.sum(c.c).label("c"), *[func.sum(c[s]).label(s) for s in all_sums])
              .group_by(*[c[k] for k in keys], c.kind, c.v))
    return union_all(select(per), totals).subquery("histogram")


def cumulative(histogram, keys: tuple[str, ...]):
    """The histogram with ``before`` (values below each row) and ``n`` (values in its group)."""
    h = histogram.c
    partition = [h[k] for k in keys] + [h.kind]
    return select(
        histogram,
        (func.sum(h.c).over(partition_by=partition, order_by=h.v, rows=(None, 0)) - h.c)
        .label("before"),
        func.sum(h.c).over(partition_by=partition).label("n"),
    ).subquery("cumulative")


def quantile(cum, kind: str, quarters: int):
    """Aggregate: quantile ``quarters / 4`` of ``kind`` over each group (NULL without values)."""
    c = cum.c
    position = (c.n - 1) * quarters          # 4 × the 0-based position of the quantile
    fraction = (position % 4) * 0.25         # how far it lies towards the next value
    low = case((and_(c.kind == kind, 4 * c.before <= position,
                     position < 4 * (c.before + c.c)), c.v * (1 - fraction)), else_=0)
    high = case((and_(c.kind == kind, 4 * (c.before - 1) <= position,
                      position < 4 * (c.before + c.c - 1)), c.v * fraction), else_=0)
    return case((count_of(cum, kind) > 0, func.sum(low + high)))


def count_of(cum, kind: str):
    """Aggregate: how many values of ``kind`` a group has."""
    return func.coalesce(func.sum(case((cum.c.kind == kind, cum.c.c))), 0)


def sum_of(cum, kind: str, name: str):
    """Aggregate: a carried sum of the ``kind`` rows of a group."""
    return func.coalesce(func.sum(case((cum.c.kind == kind, cum.c[name]))), 0)


def count_from(cum, kind: str, condition):
    """Aggregate: how many values of ``kind`` satisfy ``condition`` (on ``cum.c.v``)."""
    return func.coalesce(func.sum(case((and_(cum.c.kind == kind, condition), cum.c.c))), 0)
