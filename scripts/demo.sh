#!/usr/bin/env bash
# The main job on the embedded default (SQLite, local files, in-process index), the
# accountable way: admin Ada enrols a watchlist and requests the authorisation the stage
# camera identifies under, supervisor Sam (a second, independent person) approves both,
# the Hamilton clip is watched, alerts listed, the audit log verified. Each person sets
# their own password and issues their own token: nobody holds a credential of another.
#   Usage: scripts/demo.sh CITYWATCH_BIN DATA_DIR WORK_DIR
set -euo pipefail
. "$(dirname "$0")/demo-seed.sh"
cw_bin=$(realpath "$1"); data=$(realpath "$2"); work=$3
rm -rf "$work" && mkdir -p "$work" && cd "$work"
export CITYWATCH_MODELS_DIR="$data/models"
ex="$data/face_recognition/examples"
cw() { "$cw_bin" "$@"; }
as_proposer() { CITYWATCH_TOKEN=$(cat ada.token) "$cw_bin" "$@"; }
as_supervisor() { CITYWATCH_TOKEN=$(cat sam.token) "$cw_bin" "$@"; }

for user in ada:admin sam:supervisor; do
  add_person "${user%%:*}" "${user##*:}"
done

echo "== an admin cannot obtain a token that acts as Sam (refused, audited)"
if as_proposer user token issue sam --label borrowed; then
  echo "an admin obtained a token of Sam's: separation of duties is broken" >&2
  exit 1
fi

seed_watchlist_and_authorisation "show a watchlist alert"

echo "== watch the clip as camera 'stage'"
cw watch "$ex/short_hamilton_clip.mp4" --camera-id stage
cw alerts list
cw audit verify
