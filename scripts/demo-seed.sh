# Sourced by scripts/demo.sh and scripts/console.sh (not run on its own): what both demos
# set up the accountable way. Expects `cw` (citywatch as the local user), `as_proposer`
# (citywatch as admin Ada, signed in), `as_supervisor` (citywatch as supervisor Sam, signed
# in), `$cw_bin` and `$ex` (the example images folder).

# A person: the shell user adds them with a one-off password, then they sign in, set their
# own password and issue their own token (to $1.token), so nobody else holds a credential
# that acts as them, and whoever gave the one-off password cannot be their first person of
# a two-person step. $1: name, $2: role.
add_person() {
  local given own
  given="given-$(od -An -N9 -tx1 /dev/urandom | tr -d ' \n')"
  own="own-$(od -An -N9 -tx1 /dev/urandom | tr -d ' \n')"
  echo "== $1 ($2): added with a one-off password, sets their own, issues their own token"
  echo "$given" | cw user add "$1" --role "$2" --password-stdin
  printf '%s\n%s\n' "$given" "$own" | cw user passwd "$1" --own --password-stdin
  echo "$own" | cw user token issue "$1" --label demo --out "$1.token" --password-stdin
}

# Ada enrols Lin-Manuel Miranda and Alex Lacamoire (each waits for a second person:
# two-person rule), Sam approves both; Ada requests an authorisation for the stage camera
# bound to the default watchlist, and Sam approves it. $1: the authorisation's objective;
# $2: the cameras it covers (default: stage).
seed_watchlist_and_authorisation() {
  local cameras=() camera
  for camera in ${2:-stage}; do cameras+=(--camera "$camera"); done
  echo "== Ada enrols two people (each waits for a second person: two-person rule)"
  as_proposer enroll "$ex/lin-manuel-miranda.png" --name "Lin-Manuel Miranda" \
    --source "face_recognition example image" --legal-basis "demonstration"
  as_proposer enroll "$ex/alex-lacamoire.png" --name "Alex Lacamoire" \
    --source "face_recognition example image" --legal-basis "demonstration"
  for id in $(as_proposer changes list --json | "$(dirname "$cw_bin")/python" -c \
      'import json, sys; print(*(json.loads(l)["id"] for l in sys.stdin if l.strip()))'); do
    as_supervisor changes approve "$id"
  done

  echo "== Ada requests an authorisation for the stage camera, Sam approves it"
  as_proposer authorisations request DEMO-1 --issuer "citywatch demo" \
    --legal-basis "demonstration on public sample images" --objective "$1" \
    "${cameras[@]}" --watchlist default --until +1d
  as_supervisor authorisations approve DEMO-1
}
