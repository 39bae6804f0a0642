# Sourced by the set-up scripts (bootstrap, run, test, install, lock). A failure never passes in
# silence: it names the script, the command, its exit status and the log to read.
set -Eeuo pipefail
_me=${0##*/}
# Logs of the long steps (apt, pip): in the checkout, so they outlive a failed run.
SETUP_LOGS=${SETUP_LOGS:-$PWD/.logs}

# fail STATUS WHAT [LOG]: say what failed and exit with its status.
fail() {
  local rc=$1 what=$2 log=${3:-}
  echo "$_me: FAILED (exit status $rc): $what" >&2
  if [[ -n "$log" && -s "$log" ]]; then
    echo "$_me: the last lines of $log:" >&2
    tail -n 25 "$log" | sed 's/^/  | /' >&2
    echo "$_me: the whole log: $log" >&2
  fi
  exit "$rc"
}
trap 'fail $? "line $LINENO: $BASH_COMMAND"' ERR

# logged NAME CMD...: run a long step with its output in $SETUP_LOGS/NAME.log.
logged() {
  local log="$SETUP_LOGS/$1.log"
  shift
  mkdir -p "$SETUP_LOGS"
  "$@" >"$log" 2>&1 || fail $? "$*" "$log"
}

# apt_need PKG...: install the Debian packages that are missing (root, or sudo).
apt_need() {
  local missing=() p sudo=""
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  (( ${#missing[@]} )) || return 0
  echo "$_me: installing Debian packages: ${missing[*]}" >&2
  [[ $(id -u) -eq 0 ]] || sudo="sudo"
  logged apt-update $sudo apt-get update
  logged apt-install env DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
}

# pip_locked PYTHON LOCKFILE [PIP OPTION...]: install exactly the lock's pinned, hashed packages.
pip_locked() {
  logged pip-lock "$1" -m pip install --disable-pip-version-check --require-hashes --no-deps -r "$2" "${@:3}"
}
