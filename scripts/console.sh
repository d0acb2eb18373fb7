#!/usr/bin/env bash
# Serve the web console on configured cameras, on the embedded default: the Hamilton clip
# replayed in real time and looped as camera 'stage' (identifying, under an authorisation
# Sam approves) and camera 'lobby' (detect only: faces counted and blurred), a watchlist
# enrolled by two people, and one user per role to sign in as. Ctrl-C stops it.
#   Usage: scripts/console.sh CITYWATCH_BIN DATA_DIR WORK_DIR [PORT]
set -euo pipefail
. "$(dirname "$0")/demo-seed.sh"
cw_bin=$(realpath "$1"); data=$(realpath "$2"); work=$3; port=${4:-8080}
rm -rf "$work" && mkdir -p "$work" && cd "$work"
export CITYWATCH_MODELS_DIR="$data/models"
ex="$data/face_recognition/examples"
password="console-demo-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
cw() { "$cw_bin" "$@"; }
as_proposer() { CITYWATCH_TOKEN=$(cat ada.token) "$cw_bin" "$@"; }
as_supervisor() { CITYWATCH_TOKEN=$(cat sam.token) "$cw_bin" "$@"; }

cat > citywatch.yaml <<YAML
data_dir: citywatch-data
cameras:
  - id: stage
    name: Theatre stage
    url: $ex/short_hamilton_clip.mp4
    mode: watchlist
    location: [40.75903, -73.98700]
    source: {replay: true}
  - id: lobby
    name: Theatre lobby
    url: $ex/short_hamilton_clip.mp4
    mode: detect
    location: [40.75928, -73.98652]
    source: {replay: true}
alerts: {cooldown_s: 60}
api: {enabled: true, host: 127.0.0.1, port: $port}
YAML

echo "== one user per role, each with the password $password"
for user in ada:admin sam:supervisor sue:supervisor olga:operator ian:investigator aude:auditor; do
  echo "$password" | cw user add "${user%%:*}" --role "${user##*:}" --password-stdin
done
# Ada and Sam each sign in and issue their own token for the setup (nobody issues a token
# that acts as another person); both are revoked once it is done
for name in ada sam; do
  echo "$password" | cw user token issue "$name" --label console-setup --out "$name.token" --password-stdin
done

seed_watchlist_and_authorisation "show the console"
for id in $(cw user token list --json | "$(dirname "$cw_bin")/python" -c \
    'import json, sys; print(*(t["id"] for t in map(json.loads, filter(str.strip, sys.stdin)) if t["label"] == "console-setup"))'); do
  cw user token revoke "$id"
done
rm -f ada.token sam.token

echo
echo "== console: http://127.0.0.1:$port/  (sign in as olga, sam, sue, ian, aude or ada;"
echo "   password $password). Public pages: /transparency and /request. Ctrl-C stops."
exec "$cw_bin" run
