#!/usr/bin/env bash
# Build the HTML documentation (API reference + rendered notebooks), warnings as errors.
#   bash scripts/docs.sh            build into docs/_build/html
#   bash scripts/docs.sh --serve    build, then serve it on http://localhost:8000
# Needs sphinx and myst-nb in the venv (.venv/bin/pip install sphinx myst-nb).
# Nothing is fetched from the network and no notebook is executed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="${VENV:-.venv}/bin/python"

serve=0
for arg in "$@"; do
    case "$arg" in
        --serve) serve=1 ;;
        *) echo "usage: $0 [--serve]" >&2; exit 2 ;;
    esac
done

start=$(date +%s)
"$PY" -m sphinx -W --keep-going -b html docs docs/_build/html
echo "docs built in $(( $(date +%s) - start ))s: $ROOT/docs/_build/html/index.html"

if (( serve )); then
    echo "serving on http://localhost:8000 (Ctrl-C to stop)"
    exec "$PY" -m http.server 8000 --directory docs/_build/html
fi
