#!/usr/bin/env bash
# Set up and run the whole test suite: unit, integration, API, web and browser tests, on SQLite,
# and on PostgreSQL too when TEST_DATABASE_URL is set (each run creates its own database there).
# Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --browser
exec .venv/bin/python -m pytest -p no:cacheprovider "$@"
