#!/usr/bin/env bash
# THE test command:  bash scripts/test.sh [extra pytest args for the unit-test run]
#  1. scripts/setup.sh (venv, torch==2.13.0, nasnb[test], chromium)
#  2. unit tests + doctests + browser tests (pytest config in pyproject.toml)
#  3. notebooks re-executed and compared with nbval
# Exits non-zero if either pytest run fails; both always run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup.sh test
PY="${VENV:-.venv}/bin/python"

set +e
echo "== unit tests, doctests, browser tests =="
MPLBACKEND=Agg "$PY" -m pytest "$@"
unit_rc=$?

echo "== notebooks (nbval) =="
if find notebooks -name '*.ipynb' -not -path '*/.ipynb_checkpoints/*' 2>/dev/null | grep -q .; then
  "$PY" -m pytest -p no:cacheprovider --nbval --nbval-current-env \
    --nbval-sanitize-with notebooks/nbval_sanitize.cfg notebooks/
  nb_rc=$?
else
  echo "no notebooks in notebooks/ - skipped"
  nb_rc=0
fi
set -e

echo "== summary: unit rc=$unit_rc, notebooks rc=$nb_rc =="
if (( unit_rc != 0 )); then exit "$unit_rc"; fi
exit "$nb_rc"
