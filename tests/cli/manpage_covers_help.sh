#!/usr/bin/env bash
# The man page documents every command and option that `membatch --help`
# lists, and every exit code: a new option without its man entry fails here.
# usage: manpage_covers_help.sh MEMBATCH MAN_SOURCE
set -euo pipefail
MEMBATCH=$1 MAN=$2
page=$(sed 's/\\-/-/g' "$MAN")
help=$("$MEMBATCH" --help)
missing=()
while read -r option; do
  grep -qF -- "$option" <<<"$page" || missing+=("$option")
done < <(grep -oE -- '--[a-z][a-z-]+' <<<"$help" | sort -u)
while read -r command; do
  grep -qE -- "^\.(B|BI) \"?$command\b" <<<"$page" || missing+=("command $command")
done < <(sed -n '/^Commands:/,/^$/p' <<<"$help" | grep -oE '^  [a-z]+' | tr -d ' ')
for code in 0 1 2 3 4; do
  grep -qx -- ".B $code" <<<"$page" || missing+=("exit code $code")
done
if ((${#missing[@]})); then
  printf 'FAIL: the man page (%s) lacks: %s\n' "$MAN" "${missing[*]}" >&2
  exit 1
fi
echo "PASS: the man page covers $(grep -coE -- '--[a-z][a-z-]+' <<<"$help") options, the commands and the exit codes"
