"""The paths benchmark (issue 9) runs from its one command on a tiny clinic.

CI checks that it runs and reports every row, not its speed: no figure is asserted. It uses
the Python load generator with very short runs, so it needs neither wrk nor a quiet machine.
"""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_paths_bench_runs_on_a_tiny_clinic(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--suite", "paths", "--patients", "20",
         "--repeat", "2", "--duration", "0.3", "--python-load", "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    for row in ("| list visits |", "| plan progress |", "| patient page |", "| chart 304 |",
                "| chart cache hit |", "| chart cache miss (PNG, 800×400) |",
                "| chart cache miss (SVG, 800×400) |", "| save visit note (12 measurements) |",
                "| caseload flags, cold (", "| caseload flags, warm (",
                "| first request after start (chart render) |",
                "| worker RSS after all of the above |"):
        assert row in out, row
    assert "Python load generator" in out
    assert "lost 0" in out  # every 201 of the eight writing threads is a row
    assert (tmp_path / "clinic-20.sqlite").exists()
    assert not (tmp_path / "clinic-20-paths.sqlite").exists()  # the working copy is removed
