#!/usr/bin/env bash
# The console's man page documents every option `membatch-console --help`
# lists (which answers without a display).
# usage: console_manpage_covers_help.sh MEMBATCH_CONSOLE MAN_SOURCE
set -euo pipefail
CONSOLE=$1 MAN=$2
page=$(sed 's/\\-/-/g' "$MAN")
help=$(env -u DISPLAY -u WAYLAND_DISPLAY "$CONSOLE" --help)
missing=()
while read -r option; do
  grep -qF -- "$option" <<<"$page" || missing+=("$option")
done < <(grep -oE -- '--[a-z][a-z-]+' <<<"$help" | sort -u)
for code in 0 1 2; do
  grep -qx -- ".B $code" <<<"$page" || missing+=("exit code $code")
done
if ((${#missing[@]})); then
  printf 'FAIL: the man page (%s) lacks: %s\n' "$MAN" "${missing[*]}" >&2
  exit 1
fi
echo "PASS: the console's man page covers $(grep -coE -- '--[a-z][a-z-]+' <<<"$help") options and the exit codes"
