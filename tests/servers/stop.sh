#!/usr/bin/env bash
# tests/servers/stop.sh DIR
#
# Stops the private Postfix, the two Dovecots and the token service that
# start.sh started under DIR, by the PIDs it recorded (servers.env, or the
# pid files when start.sh died before writing it): TERM, a bounded wait,
# then KILL. Never by name.
# Idempotent: nothing recorded or nothing alive is success.
set -uo pipefail

STOP_TIMEOUT=${VMAIL_TEST_STOP_TIMEOUT:-10}   # seconds before TERM becomes KILL

[ $# -eq 1 ] || { echo "usage: $0 DIR" >&2; exit 2; }
[ -d "$1" ] || exit 0
DIR=$(cd "$1" && pwd)

# recorded KEY PIDFILE: the PID from servers.env, else from the pid file.
recorded() {
  local pid=
  [ -f "$DIR/servers.env" ] && pid=$(sed -n "s/^$1=//p" "$DIR/servers.env")
  [ -n "$pid" ] || pid=$(tr -d ' \n' 2>/dev/null < "$2")
  [[ $pid =~ ^[0-9]+$ ]] && echo "$pid"
}

# ours PID: alive and started for this DIR, so that a recycled PID is left
# alone. The Dovecots have "-c DIR/dovecot{,-oauth}/dovecot.conf" on their
# command lines, the token service "--ready-file DIR/token-service/ready";
# Postfix's master has MAIL_CONFIG=DIR/postfix/etc in its environment.
ours() {
  [ -r "/proc/$1/cmdline" ] || return 1
  tr '\0' '\n' 2>/dev/null < "/proc/$1/cmdline" |
    grep -qxF -e "$DIR/dovecot/dovecot.conf" -e "$DIR/dovecot-oauth/dovecot.conf" \
      -e "$DIR/token-service/ready" && return 0
  tr '\0' '\n' 2>/dev/null < "/proc/$1/environ" | grep -qxF -- "MAIL_CONFIG=$DIR/postfix/etc"
}

# descendants PID...: every process below the PIDs, from one pass over
# /proc/*/stat (after the command name, which may hold spaces, come the
# state and the parent PID).
descendants() {
  local -A kids=()
  local f s ppid pid queue=("$@")
  for f in /proc/[0-9]*/stat; do
    { s=$(<"$f"); } 2>/dev/null || continue
    read -r _ ppid _ <<<"${s##*) }"
    pid=${f#/proc/}; pid=${pid%/stat}
    kids[$ppid]+=" $pid"
  done
  while [ ${#queue[@]} -gt 0 ]; do
    pid=${queue[0]}; queue=("${queue[@]:1}")
    for f in ${kids[$pid]:-}; do echo "$f"; queue+=("$f"); done
  done
}

# running PID: alive and not a zombie waiting to be reaped.
running() {
  local s state
  { s=$(<"/proc/$1/stat"); } 2>/dev/null || return 1
  read -r state _ <<<"${s##*) }"
  [ "$state" != Z ]
}

# wait_gone SECONDS PID...: true once none of the PIDs is running.
wait_gone() {
  local deadline=$((SECONDS + $1)) p busy; shift
  while :; do
    busy=
    for p in "$@"; do running "$p" && busy=1 && break; done
    [ -z "$busy" ] && return 0
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.1
  done
}

# All get TERM at once (each master ends its own children; Dovecot takes
# about 3 s, Postfix 1.5 s); whatever is left after the bounded wait gets KILL.
masters=()
for key in VMAIL_TEST_POSTFIX_PID:postfix/spool/pid/master.pid VMAIL_TEST_DOVECOT_PID:dovecot/run/master.pid \
  VMAIL_TEST_DOVECOT_OAUTH_PID:dovecot-oauth/run/master.pid VMAIL_TEST_TOKEN_SERVICE_PID:token-service/pid; do
  pid=$(recorded "${key%%:*}" "$DIR/${key#*:}") || continue
  ours "$pid" && masters+=("$pid")
done
[ ${#masters[@]} -gt 0 ] || { rm -f "$DIR/servers.env"; exit 0; }

tree=("${masters[@]}" $(descendants "${masters[@]}"))
kill -TERM "${masters[@]}" 2>/dev/null
if ! wait_gone "$STOP_TIMEOUT" "${tree[@]}"; then
  echo "stop.sh: still running after ${STOP_TIMEOUT}s, sending KILL:" $(for p in "${tree[@]}"; do running "$p" && echo "$p"; done) >&2
  kill -KILL "${tree[@]}" 2>/dev/null
  wait_gone 5 "${tree[@]}" || { echo "stop.sh: processes survived KILL" >&2; exit 1; }
fi
# The next start must not read stale PIDs or ports.
rm -f "$DIR/servers.env"
