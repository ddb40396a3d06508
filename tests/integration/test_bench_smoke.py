"""The benchmark runs from its one command on a tiny clinic (CI checks it runs, not its speed)."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_runs_on_a_tiny_clinic(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--patients", "20", "--repeat", "3",
         "--data-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    for route in ("| 20 | outcomes |", "| 20 | outcomes, one practitioner, one quarter |",
                  "| 20 | worklist |"):
        assert route in out
    assert "worker RSS after" in out and "ratios (p50 ÷ floor p50)" in out
    assert (tmp_path / "clinic-20.sqlite").exists()
