#!/usr/bin/env bash
# Set up and run the service on its embedded SQLite database with the demo clinic.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export FLASK_APP=notes_service
.venv/bin/flask init-db
.venv/bin/flask seed-demo --if-empty
host=${HOST:-127.0.0.1}
port=${PORT:-5000}
echo "Open http://$host:$port/ and sign in with one of the demo logins above."
exec .venv/bin/gunicorn -c gunicorn.conf.py --bind "$host:$port" --workers 2 --access-logfile - wsgi:app
