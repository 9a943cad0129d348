#!/usr/bin/env bash
# The project's one test command: `bash tests/run.sh [cargo test args...]`.
#
# Starts the private Postfix and Dovecot (tests/servers/start.sh, installing
# Debian's packages when missing) into target/test-servers, runs every test
# of the workspace against them, and stops them again whatever happens.
# Exits with cargo's status.
#
# Extra arguments go to `cargo test`. Naming a package (-p) replaces
# --workspace and naming a target (--test, --lib, ...) replaces --all-targets,
# because cargo would otherwise let those two win:
#   bash tests/run.sh -p vmail-testkit --test real_servers_answer -- pop3
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SERVERS_DIR=$ROOT/target/test-servers

packages=(--workspace)
targets=(--all-targets)
for arg in "$@"; do
  case $arg in
    --) break ;;
    -p | -p* | --package | --package=*) packages=() ;;
    --lib | --bin | --bin=* | --bins | --test | --test=* | --tests | \
      --example | --example=* | --examples | --bench | --bench=* | --benches | --doc) targets=() ;;
  esac
done

# One run at a time per checkout: a second start.sh in the same directory
# would stop the servers under the first run's tests.
mkdir -p "$ROOT/target"
exec 9>"$ROOT/target/test-servers.lock"
if ! flock -n 9; then
  echo "tests/run.sh: another run is using $SERVERS_DIR; waiting for it (15 min at most)" >&2
  flock -w 900 9 || { echo "tests/run.sh: gave up waiting for the other run" >&2; exit 1; }
fi

# The servers must not inherit the lock (9>&-): it ends with this script.
trap 'bash "$ROOT/tests/servers/stop.sh" "$SERVERS_DIR" 9>&-' EXIT
bash "$ROOT/tests/servers/start.sh" "$SERVERS_DIR" 9>&-
export VMAIL_TEST_SERVERS=$SERVERS_DIR/servers.env

cd "$ROOT"
status=0
cargo test "${packages[@]}" "${targets[@]}" "$@" || status=$?
exit $status
