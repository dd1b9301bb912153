#!/usr/bin/env bash
# Runs a command with a stack's env file sourced: with-env.sh ENV_FILE CMD...
set -euo pipefail
env_file=$1
shift
if [[ ! -r $env_file ]]; then
    echo "with-env.sh: $env_file is missing: is the stack up?" >&2
    exit 1
fi
# shellcheck disable=SC1090
source "$env_file"
exec "$@"
