# Shared by vmail.sh and vmail-drop.sh (sourced by them, not a system itself).
#
# The binaries under test are the ones built from this checkout
# (target/release), unless VMAIL_BIN names another folder.  setup() builds
# them when they are missing, and always writes the config again, so a run
# measures the checkout as it is.
VMAIL_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VMAIL_BIN=${VMAIL_BIN:-$VMAIL_SRC/target/release}
VM=$BENCH_PREFIX/$VMAIL_SYSTEM
VMAIL_INI=$VM/vsisrv.ini
TRACK_EXE=()
# Workload d: jobs queue while vmaild is stopped (the shim writes queue/
# itself, a drop waits in in/); vmaild drains both at start.
BACKLOG=yes
TRIGGER="inotify on spool/in and spool/queue (notify crate): vmaild wakes at once; rescans at start, on overflow and every 60 s"

vmail_setup() {
  if [ ! -x "$VMAIL_BIN/vmaild" ] || [ ! -x "$VMAIL_BIN/vmail-sendmail" ]; then
    [ "$VMAIL_BIN" = "$VMAIL_SRC/target/release" ] || { echo "no vmaild/vmail-sendmail in $VMAIL_BIN"; return 1; }
    ( cd "$VMAIL_SRC" && cargo build --release --locked -p vmail-daemon -p vmail-cli --bins ) || return 1
  fi
  mkdir -p "$VM" "$STATE"
  # The harness runs as root; vmaild refuses a spool that others can write,
  # so the modes are set as the .deb sets them.
  install -d -m 0750 "$VM/spool"
  cat > "$VMAIL_INI" <<INI
; vmail under ../shared/bench: the sink on loopback, no TLS, no login.
[VMAIL]
mail-server = $BENCH_SINK_HOST
mail-port = $BENCH_SINK_PORT
tls = none
auth-type = none
helo-name = bench-vmail.local
from = $BENCH_FROM
timeout = 30s
max-connections = 4
retry-min = 1s
retry-max = 10s
debug = 1
[VFXSCHED]
spool = $VM/spool
debug = Off
INI
  # vfxadmin opens the spool, which makes its folders with their modes.
  "$VMAIL_BIN/vfxadmin" --config "$VMAIL_INI" queue list >/dev/null || return 1
}

vmail_start() {
  mkdir -p "$STATE"
  "$VMAIL_BIN/vmaild" --config "$VMAIL_INI" >>"$STATE/vmaild.log" 2>&1 &
  echo $! > "$STATE/vmaild.pid"
  # Ready once the daemon log says so (recovery done, watcher armed).
  local i=0
  while [ $i -lt 200 ]; do
    alive "$(cat "$STATE/vmaild.pid")" || return 1
    grep -q "ready:" "$VM/spool/logs/vmail" 2>/dev/null && return 0
    sleep 0.01; i=$((i+1))
  done
  return 1
}

pids() { cat "$STATE/vmaild.pid" 2>/dev/null; }

queue_count() { find "$VM/spool/queue" "$VM/spool/in" -type f ! -name '*.state' 2>/dev/null | wc -l; }

flush() { "$VMAIL_BIN/vfxadmin" --config "$VMAIL_INI" queue retry --all; }

vmail_stop() {
  kill_pidfile "$STATE/vmaild.pid" 20
  # An empty queue for the next run: the used spool is set aside whole and a
  # fresh one made (modes as setup makes them); teardown deletes the old
  # ones. Deleting thousands of files here would make the next runs' file
  # creations slow (ext4 skips recently freed inodes for a while), charging
  # the harness's cleanup to whatever runs next.
  mkdir -p "$VM/trash"
  mv "$VM/spool" "$VM/trash/spool.$(date +%s%N)"
  install -d -m 0750 "$VM/spool"
  "$VMAIL_BIN/vfxadmin" --config "$VMAIL_INI" queue list >/dev/null
}

teardown() { rm -rf "$VM"; }   # the config, the spool and the set-aside spools
