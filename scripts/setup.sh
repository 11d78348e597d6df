#!/usr/bin/env bash
# Idempotent environment setup for nasnb.
#   bash scripts/setup.sh            # test profile: .venv + torch + nasnb[test] + Debian chromium
#   bash scripts/setup.sh notebooks  # notebook profile: .venv + torch + nasnb[notebooks]
# Env: TORCH_SPEC (default torch==2.13.0, the CPU build on this machine's disk; it must be
#      installed before nasnb, or pip resolves torch>=2.1 to a multi-GB CUDA build),
#      PYTHON (default python3), VENV (default .venv).
set -euo pipefail

PROFILE="${1:-test}"
case "$PROFILE" in
  test|notebooks) ;;
  *) echo "setup.sh: unknown profile '$PROFILE' (use 'test' or 'notebooks')" >&2; exit 2 ;;
esac

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
TORCH_SPEC="${TORCH_SPEC:-torch==2.13.0}"
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"

log() { echo "[setup] $*" >&2; }

if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating $VENV"
  "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check --no-input -q)

# Skip pip when nothing that affects the install changed since the last successful run
# (stamp = profile + torch spec + pyproject.toml). SETUP_FORCE=1 reinstalls anyway.
STAMP="$VENV/.nasnb-setup-$PROFILE"
WANT="$(printf '%s\n%s\n' "$PROFILE" "$TORCH_SPEC" | cat - pyproject.toml | sha256sum | cut -d' ' -f1)"
if [[ "${SETUP_FORCE:-0}" != 1 && -f "$STAMP" && "$(cat "$STAMP")" == "$WANT" ]]; then
  log "python packages up to date ($STAMP)"
else
  rm -f "$STAMP"
  # torch first, pinned (a no-op when already satisfied).
  log "installing $TORCH_SPEC"
  "${PIP[@]}" install "$TORCH_SPEC"
  log "installing nasnb[$PROFILE] (editable)"
  "${PIP[@]}" install -e ".[$PROFILE]"
  echo "$WANT" > "$STAMP"
fi

if [[ "$PROFILE" == test ]] && ! command -v chromium >/dev/null 2>&1; then
  log "installing Debian chromium (for tests/browser)"
  SUDO=()
  if [[ "$(id -u)" != 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then SUDO=(sudo -n); else
      echo "setup.sh: chromium missing and not root; install it (apt-get install chromium) or the browser tests are skipped" >&2
      exit 0
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  "${SUDO[@]}" apt-get update -qq
  "${SUDO[@]}" apt-get install -y -qq --no-install-recommends chromium >/dev/null
  command -v chromium >/dev/null 2>&1 || { echo "setup.sh: chromium still not on PATH after apt-get" >&2; exit 1; }
fi
log "ok ($("$PY" -c 'import torch, sys; print(f"python {sys.version.split()[0]}, torch {torch.__version__}")'))"
