"""Commands of the outcomes feature: a synthetic clinic at scale, and rebuilding summaries."""

from __future__ import annotations

import time

import click
from flask import Flask


def register_outcome_commands(app: Flask) -> None:
    """Attach ``seed-scale`` and ``outcomes-refresh`` to ``app.cli``."""

    @app.cli.command("seed-scale")
    @click.option("--patients", type=click.IntRange(1, 1_000_000), required=True,
                  help="Number of synthetic patients (10000 → ~150,000 notes).")
    @click.option("--seed", type=int, default=2026, help="Random seed (same seed, same clinic).")
    def seed_scale_command(patients, seed):
        """Fill an empty database with a synthetic clinic for benchmarks (bulk inserts)."""
        from notes_service.outcomes.seed import SCALE_DIRECTOR, SCALE_PASSWORD, seed_scale

        started = time.perf_counter()
        try:
            totals = seed_scale(patients, seed=seed, echo=click.echo)
        except ValueError as exc:
            raise click.ClickException(str(exc)) from None
        click.echo(f"Scale clinic: {totals['patients']} patients, {totals['plans']} plans, "
                   f"{totals['visits']} visit notes, {totals['measurements']} measurements, "
                   f"{totals['practitioners']} practitioners in "
                   f"{time.perf_counter() - started:.0f} s.")
        click.echo(f"Director login: {SCALE_DIRECTOR} / {SCALE_PASSWORD}")

    @app.cli.command("outcomes-refresh")
    def outcomes_refresh_command():
        """Rebuild every plan's outcome summary (after changing thresholds or settings)."""
        from sqlalchemy import select

        from notes_service.extensions import db
        from notes_service.outcomes.summary import refresh_summaries
        from notes_service.plans.models import PlanOfCare

        ids = list(db.session.execute(select(PlanOfCare.id)).scalars())
        for start in range(0, len(ids), 2000):
            refresh_summaries(ids[start:start + 2000])
            db.session.commit()
        click.echo(f"Outcome summaries rebuilt for {len(ids)} plans.")
