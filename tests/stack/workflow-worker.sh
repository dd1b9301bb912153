#!/usr/bin/env bash
# The project's workflow worker from .venv: workflow-worker.sh [ARGS...]
# (python -m membatch_workflow --help lists the arguments; the address,
# namespace and task queue default to the MEMBATCH_* variables).
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VENV=${MEMBATCH_VENV:-$REPO/.venv}
export PYTHONPATH="$REPO/resources/temporal${PYTHONPATH:+:$PYTHONPATH}"
exec "$VENV/bin/python" -m membatch_workflow "$@"
