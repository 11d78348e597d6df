#!/usr/bin/env bash
# THE test command:  bash scripts/test.sh [extra pytest args for the unit-test run]
#  1. scripts/setup.sh (venv, torch==2.13.0, nasnb[test], chromium)
#  2. lint and types: ruff and mypy (settings in pyproject.toml)
#  3. unit tests + doctests + browser tests (pytest config in pyproject.toml)
#  4. notebooks re-executed and compared with nbval
#  5. the API reference built with Sphinx, warnings as errors (scripts/docs.sh)
# Exits non-zero if any step fails; every step always runs.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

bash scripts/setup.sh test
PY="${VENV:-.venv}/bin/python"

set +e
echo "== lint (ruff) and types (mypy) =="
"${VENV:-.venv}/bin/ruff" check .
lint_rc=$?
"$PY" -m mypy
types_rc=$?

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

echo "== API reference (sphinx -W) =="
bash scripts/docs.sh
docs_rc=$?
set -e

echo "== summary: lint rc=$lint_rc, types rc=$types_rc, unit rc=$unit_rc, notebooks rc=$nb_rc, docs rc=$docs_rc =="
for rc in "$unit_rc" "$nb_rc" "$lint_rc" "$types_rc" "$docs_rc"; do
  if (( rc != 0 )); then exit "$rc"; fi
done
