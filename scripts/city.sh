#!/usr/bin/env bash
# make city: a city on this machine, as separate processes on the engines a deployment uses:
# PostgreSQL and NATS JetStream (already running here), SeaweedFS (S3, started for it). Two
# workers (two cameras each, by lease), a store consumer and two API replicas watch four
# cameras replaying the Hamilton clip. Ctrl-C stops it all and drops its database.
#   Usage: scripts/city.sh CITYWATCH_BIN DATA_DIR WORK_DIR [PORT]
set -euo pipefail
. "$(dirname "$0")/demo-seed.sh"
cw_bin=$(realpath "$1"); data=$(realpath "$2"); work=$3; port=${4:-8080}
py="$(dirname "$cw_bin")/python"
rm -rf "$work" && mkdir -p "$work" && cd "$work"
export CITYWATCH_MODELS_DIR="$data/models"
ex="$data/face_recognition/examples"
db="citywatch_city_$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')"
pids=()
cleanup() {
  trap - EXIT INT TERM
  set +e
  echo "== stopping the city" >&2
  kill "${pids[@]}" 2>/dev/null
  for pid in "${pids[@]}"; do
    for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
    kill -9 "$pid" 2>/dev/null
  done
  dropdb -h 127.0.0.1 -U postgres --if-exists --force "$db" && echo "== dropped the database $db" >&2
}
trap cleanup EXIT INT TERM

echo "== the local NATS: a fresh citywatch stream and lease bucket (an earlier city's go)"
"$py" - <<'PY'
import asyncio
import nats

async def fresh() -> None:
    client = await nats.connect("nats://127.0.0.1:4222")
    js = client.jetstream()
    for gone in (js.delete_stream("CITYWATCH"), js.delete_key_value("citywatch_leases")):
        try:
            await gone
        except Exception:  # not there yet
            pass
    await client.close()

asyncio.run(fresh())
PY

echo "== PostgreSQL database $db; SeaweedFS (S3) under $work/seaweedfs"
createdb -h 127.0.0.1 -U postgres "$db"
"$py" -m citywatch.cluster.servers seaweedfs "$PWD/seaweedfs" > seaweedfs.env &
pids+=($!)
for _ in $(seq 120); do grep -q CITYWATCH_STORAGE seaweedfs.env 2>/dev/null && break; sleep 0.5; done
. ./seaweedfs.env

cat > citywatch.yaml <<YAML
data_dir: citywatch-data
database_url: postgresql+psycopg://postgres@127.0.0.1:5432/$db
bus: nats://127.0.0.1:4222
storage: $CITYWATCH_STORAGE
cameras:
$(for c in stage north south east; do printf '  - {id: %s, url: %s, mode: watchlist, source: {replay: true}}\n' "$c" "$ex/short_hamilton_clip.mp4"; done)
alerts: {cooldown_s: 60}
api: {enabled: true, host: 127.0.0.1, port: $port}
YAML
unset CITYWATCH_STORAGE  # the file names it

cw() { "$cw_bin" "$@"; }
as_proposer() { CITYWATCH_TOKEN=$(cat ada.token) "$cw_bin" "$@"; }
as_supervisor() { CITYWATCH_TOKEN=$(cat sam.token) "$cw_bin" "$@"; }
add_person ada admin
add_person sam supervisor
seed_watchlist_and_authorisation "show a city" "stage north south east"
password="city-demo-$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')"
echo "$password" | cw user add olga --role operator --password-stdin

echo "== the processes of the city (logs in $work/*.log)"
"$cw_bin" store > store.log 2>&1 & pids+=($!)
"$cw_bin" worker --capacity 2 > worker-1.log 2>&1 & pids+=($!)
"$cw_bin" worker --capacity 2 > worker-2.log 2>&1 & pids+=($!)
"$cw_bin" serve > serve-1.log 2>&1 & pids+=($!)
CITYWATCH_API__PORT=$((port + 1)) "$cw_bin" serve > serve-2.log 2>&1 & pids+=($!)
echo
echo "== console: http://127.0.0.1:$port/ and http://127.0.0.1:$((port + 1))/ (two replicas;"
echo "   sign in as olga, password $password). Ctrl-C stops the city."
wait -n "${pids[@]}" || true
echo "a process of the city ended; stopping the rest" >&2
