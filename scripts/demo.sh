#!/usr/bin/env bash
# The main job on the embedded default (SQLite, local files, in-process index), the
# accountable way: two people enrol a watchlist, a supervisor approves the authorisation
# the stage camera identifies under, the Hamilton clip is watched, alerts listed, the audit
# log verified.  Usage: scripts/demo.sh CITYWATCH_BIN DATA_DIR WORK_DIR
set -euo pipefail
cw_bin=$(realpath "$1"); data=$(realpath "$2"); work=$3
rm -rf "$work" && mkdir -p "$work" && cd "$work"
export CITYWATCH_MODELS_DIR="$data/models"
ex="$data/face_recognition/examples"
cw() { "$cw_bin" "$@"; }
as_supervisor() { CITYWATCH_TOKEN=$(cat supervisor.token) "$cw_bin" "$@"; }

echo "== a second person: supervisor Sam, signing in with an API token"
cw user add sam --role supervisor --no-password
cw user token issue sam --label demo --out supervisor.token

echo "== enrol two people (each waits for a second person: two-person rule)"
cw enroll "$ex/lin-manuel-miranda.png" --name "Lin-Manuel Miranda" \
  --source "face_recognition example image" --legal-basis "demonstration"
cw enroll "$ex/alex-lacamoire.png" --name "Alex Lacamoire" \
  --source "face_recognition example image" --legal-basis "demonstration"
for id in $(cw changes list --json | "$(dirname "$cw_bin")/python" -c \
    'import json, sys; print(*(json.loads(l)["id"] for l in sys.stdin if l.strip()))'); do
  as_supervisor changes approve "$id"
done

echo "== an authorisation for the stage camera, approved by Sam"
cw authorisations request DEMO-1 --issuer "citywatch demo" \
  --legal-basis "demonstration on public sample images" --objective "show a watchlist alert" \
  --camera stage --watchlist default --until +1d
as_supervisor authorisations approve DEMO-1

echo "== watch the clip as camera 'stage'"
cw watch "$ex/short_hamilton_clip.mp4" --camera-id stage
cw alerts list
cw audit verify
