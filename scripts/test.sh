#!/usr/bin/env bash
# THE test command:  bash scripts/test.sh [extra pytest args for the unit-test run]
#  1. scripts/setup.sh (venv, torch==2.13.0, nasnb[test], chromium)
#  2. lint: ruff (rules in pyproject.toml)
#  3. unit tests + doctests + browser tests (pytest config in pyproject.toml)
#  4. notebooks re-executed and compared with nbval
# Exits non-zero if any step fails; every step always runs.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup.sh test
PY="${VENV:-.venv}/bin/python"

set +e
echo "== lint (ruff) =="
"${VENV:-.venv}/bin/ruff" check .
lint_rc=$?

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

echo "== summary: lint rc=$lint_rc, unit rc=$unit_rc, notebooks rc=$nb_rc =="
if (( unit_rc != 0 )); then exit "$unit_rc"; fi
if (( nb_rc != 0 )); then exit "$nb_rc"; fi
exit "$lint_rc"
