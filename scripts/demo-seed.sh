# Sourced by scripts/demo.sh and scripts/console.sh (not run on its own): what both demos
# set up the accountable way. Expects `cw` (citywatch as the local user), `as_supervisor`
# (citywatch as supervisor Sam), `$cw_bin` and `$ex` (the example images folder).

# Enrol Lin-Manuel Miranda and Alex Lacamoire (each waits for a second person: two-person
# rule), Sam approves both, and an authorisation for the stage camera bound to the default
# watchlist is recorded and approved by Sam. $1: the authorisation's objective.
seed_watchlist_and_authorisation() {
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
    --legal-basis "demonstration on public sample images" --objective "$1" \
    --camera stage --watchlist default --until +1d
  as_supervisor authorisations approve DEMO-1
}
