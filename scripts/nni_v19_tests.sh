#!/usr/bin/env bash
# Run NNI v1.9's own NAS unit tests (src/sdk/pynni/tests/test_nas.py and its models) against
# nasnb.compat, from a git checkout or mirror of microsoft/nni that has the tag v1.9:
#
#   bash scripts/nni_v19_tests.sh /path/to/nni.git
#
# NNI's files are extracted into a temporary folder (never into this repository). The only
# change is the one line no toolkit can run on torch >= 1.10: naive.py adds in place onto a
# ReLU output (x1 += x0 -> x1 = x1 + x0). A conftest.py installs the NNI layer.
set -euo pipefail
NNI_GIT="${1:?usage: bash scripts/nni_v19_tests.sh /path/to/nni.git}"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${VENV:-$ROOT/.venv}/bin/python"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
TAG="refs/tags/v1.9"
SRC="src/sdk/pynni/tests"
mkdir -p "$WORK/tests/models/pytorch_models"
git --git-dir="$NNI_GIT" show "$TAG:$SRC/test_nas.py" > "$WORK/tests/test_nas.py"
for f in __init__ layer_choice_only mutable_scope naive nested; do
  git --git-dir="$NNI_GIT" show "$TAG:$SRC/models/pytorch_models/$f.py" > "$WORK/tests/models/pytorch_models/$f.py"
done
grep -q "x1 += x0" "$WORK/tests/models/pytorch_models/naive.py"
sed -i 's/x1 += x0/x1 = x1 + x0/' "$WORK/tests/models/pytorch_models/naive.py"
cat > "$WORK/tests/conftest.py" <<'PY'
import nasnb.compat

nasnb.compat.install_nni()
PY
cd "$WORK/tests"
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" "$PY" -m pytest -p no:cacheprovider -q test_nas.py
