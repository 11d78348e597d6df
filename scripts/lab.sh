#!/usr/bin/env bash
# Open the quickstart notebook in JupyterLab:  bash scripts/lab.sh [extra jupyter lab args]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
bash scripts/setup.sh notebooks
EXTRA=()
if [[ "$(id -u)" == 0 ]]; then EXTRA+=(--allow-root); fi  # Jupyter refuses root otherwise (containers)
exec "${VENV:-.venv}/bin/jupyter" lab "${EXTRA[@]}" notebooks/01_quickstart.ipynb "$@"
