#!/usr/bin/env bash
# Installs, from Debian's packages, the tools that building and testing the
# packages and the systemd unit need, when they are missing:
#
#   bash packaging/install-tools.sh [TOOL...]
#
#   rpm      rpmbuild and rpm (build-rpm.sh, the RPM's tests)
#   systemd  systemd-analyze (the unit's verify and security score)
#   strace   strace (the syscalls vmaild makes, checked against the unit's filter)
#   nspawn   systemd-nspawn (package systemd-container: the unit run by a real systemd)
#   all      every one of them (the default)
#
# Runs apt-get as root; does nothing for a tool that is already there. The
# packaging tests (packaging/tests) call it, so a fresh machine or CI needs
# no manual step.
set -euo pipefail

die() { echo "install-tools: $*" >&2; exit 1; }

[ $# -gt 0 ] || set -- all
packages=()
for tool in "$@"; do
    case $tool in
        rpm) command -v rpmbuild >/dev/null || packages+=(rpm) ;;
        systemd) command -v systemd-analyze >/dev/null || packages+=(systemd) ;;
        strace) command -v strace >/dev/null || packages+=(strace) ;;
        nspawn) command -v systemd-nspawn >/dev/null || packages+=(systemd-container) ;;
        all) exec "$0" rpm systemd strace nspawn ;;
        *) die "unknown tool: $tool (rpm, systemd, strace, nspawn or all)" ;;
    esac
done
[ ${#packages[@]} -gt 0 ] || exit 0
[ "$(id -u)" -eq 0 ] || die "${packages[*]} missing, and installing needs root: apt-get install ${packages[*]}"
command -v apt-get >/dev/null || die "${packages[*]} missing, and this is not a Debian machine (no apt-get)"

echo "install-tools: installing ${packages[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
opts=(-y -q --no-install-recommends)
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# A lock held by another apt or dpkg: wait for it (5 minutes at most).
opts+=(-o DPkg::Lock::Timeout=300)
if ! apt-get install "${opts[@]}" "${packages[@]}" >"$log" 2>&1; then
    # Stale or missing package lists: update once and try again.
    if ! { apt-get update -q && apt-get install "${opts[@]}" "${packages[@]}"; } >>"$log" 2>&1; then
        tail -n 30 "$log" >&2
        die "apt-get install ${packages[*]} failed"
    fi
fi
