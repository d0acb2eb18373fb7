#!/usr/bin/env bash
# The main job on the embedded default (SQLite, local files, in-process index), the
# accountable way: two people enrol a watchlist, a supervisor approves the authorisation
# the stage camera identifies under, the Hamilton clip is watched, alerts listed, the audit
# log verified.  Usage: scripts/demo.sh CITYWATCH_BIN DATA_DIR WORK_DIR
set -euo pipefail
. "$(dirname "$0")/demo-seed.sh"
cw_bin=$(realpath "$1"); data=$(realpath "$2"); work=$3
rm -rf "$work" && mkdir -p "$work" && cd "$work"
export CITYWATCH_MODELS_DIR="$data/models"
ex="$data/face_recognition/examples"
cw() { "$cw_bin" "$@"; }
as_supervisor() { CITYWATCH_TOKEN=$(cat supervisor.token) "$cw_bin" "$@"; }

echo "== a second person: supervisor Sam, signing in with an API token"
cw user add sam --role supervisor --no-password
cw user token issue sam --label demo --out supervisor.token

seed_watchlist_and_authorisation "show a watchlist alert"

echo "== watch the clip as camera 'stage'"
cw watch "$ex/short_hamilton_clip.mp4" --camera-id stage
cw alerts list
cw audit verify
