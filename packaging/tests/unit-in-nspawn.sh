#!/usr/bin/env bash
# Runs systemd/vmaild.service under a real systemd: boots this machine's own
# root filesystem in systemd-nspawn (systemd as PID 1, sharing the host's
# network), through an overlay so that nothing of the host changes, with
# the vmail user, the unit, the shipped configuration (capture mode) and the
# given vmaild installed in the overlay only. A probe unit inside then
#
#   1. waits for vmaild.service to be active (Type=notify: READY=1 came),
#   2. drops a job into in/ as vmail and waits for its capture (inotify),
#   3. `systemctl reload` (SIGHUP), checks the daemon is still the same
#      process and delivers a second job,
#   4. records the seccomp mode and the unit's status, stops the unit,
#   5. writes `PASS` or `FAIL: why` into OUT/result and powers the
#      container off; OUT also gets the journal of the unit and `systemctl
#      show`.
#
#   bash packaging/tests/unit-in-nspawn.sh VMAILD OUT
#
# With VMAIL_NSPAWN_FILES=DIR, the files of DIR go into the container's
# /etc/vmail instead of the shipped configuration (vsisrv.ini; vmail.key
# owned by vmail, 0600; anything else root:vmail 0640), and the example
# drop-in systemd/ip-allow-list.conf.example is installed as it is (it
# allows localhost, where the test servers listen). The jobs go to
# VMAIL_NSPAWN_RCPT (default someone@example.com); their Message-IDs are
# written to OUT/message-ids.
#
# Exit status: 0 when the probe passed, 1 when it failed, 77 when this
# machine cannot boot a container (not root, no systemd-nspawn, no overlayfs,
# or systemd did not come up): the caller reports it as not run.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
VMAILD=${1:?usage: unit-in-nspawn.sh VMAILD OUT}
OUT=${2:?usage: unit-in-nspawn.sh VMAILD OUT}
LIMIT=${VMAIL_NSPAWN_LIMIT:-240}   # seconds for the whole boot, probe and poweroff

skip() { echo "unit-in-nspawn: not run: $*" >&2; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root"
command -v systemd-nspawn >/dev/null || skip "no systemd-nspawn (bash packaging/install-tools.sh nspawn)"
[ -x /lib/systemd/systemd ] || skip "no /lib/systemd/systemd to boot"
[ -x "$VMAILD" ] || { echo "unit-in-nspawn: $VMAILD is not an executable" >&2; exit 1; }

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
rm -f "$OUT"/*
WORK=$(mktemp -d /tmp/vmail-nspawn.XXXXXX)
M=$WORK/merged
cleanup() {
    umount "$M" 2>/dev/null || umount -l "$M" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
mkdir -p "$WORK/upper" "$WORK/work" "$M"
mount -t overlay overlay -o "lowerdir=/,upperdir=$WORK/upper,workdir=$WORK/work" "$M" ||
    skip "cannot mount an overlay of /"

# Everything below changes the overlay only.
if ! chroot "$M" getent passwd vmail >/dev/null; then
    chroot "$M" groupadd --system vmail
    chroot "$M" useradd --system --gid vmail --home-dir /var/spool/vmail \
        --no-create-home --shell /usr/sbin/nologin vmail
fi
# The ids inside the overlay (the host may have no vmail user).
uid=$(chroot "$M" id -u vmail)
gid=$(chroot "$M" id -g vmail)
install -m 0755 "$VMAILD" "$M/usr/sbin/vmaild"
rm -rf "$M/etc/vmail" "$M/var/spool/vmail"
install -d -m 0750 -o 0 -g "$gid" "$M/etc/vmail"
install -m 0640 -o 0 -g "$gid" "$ROOT/config/vsisrv.ini" "$M/etc/vmail/vsisrv.ini"
install -d -m 0750 -o "$uid" -g "$gid" "$M/var/spool/vmail"
# /etc/systemd/system wins over a vmaild.service a package may have put in /lib.
if [ -n "${VMAIL_NSPAWN_FILES:-}" ]; then
    for file in "$VMAIL_NSPAWN_FILES"/*; do
        case ${file##*/} in
            vmail.key) install -m 0600 -o "$uid" -g "$gid" "$file" "$M/etc/vmail/" ;;
            *) install -m 0640 -o 0 -g "$gid" "$file" "$M/etc/vmail/" ;;
        esac
    done
    install -d "$M/etc/systemd/system/vmaild.service.d"
    install -m 0644 "$ROOT/systemd/ip-allow-list.conf.example" \
        "$M/etc/systemd/system/vmaild.service.d/ip-allow-list.conf"
fi
printf 'rcpt=%s\n' "${VMAIL_NSPAWN_RCPT:-someone@example.com}" >"$OUT/probe.env"
install -m 0644 "$ROOT/systemd/vmaild.service" "$M/etc/systemd/system/vmaild.service"
install -d "$M/etc/systemd/system/multi-user.target.wants"
ln -sf ../vmaild.service "$M/etc/systemd/system/multi-user.target.wants/vmaild.service"

cat >"$M/usr/local/sbin/vmail-unit-probe" <<'PROBE'
#!/bin/sh
# Inside the container, as root: drives vmaild.service (see unit-in-nspawn.sh).
out=/probe
spool=/var/spool/vmail
. $out/probe.env
fail() { echo "FAIL: $*" > $out/result; finish; }
finish() {
    systemctl show vmaild.service > $out/show 2>&1
    journalctl -u vmaild.service --no-pager -o short-monotonic > $out/journal 2>&1
    cp -r $spool/logs $out/logs 2>/dev/null
    systemctl poweroff
    exit 0
}
# wait_for SECONDS COMMAND...: until COMMAND succeeds.
wait_for() {
    n=$(( $1 * 5 )); shift
    while [ "$n" -gt 0 ]; do
        if "$@" >/dev/null 2>&1; then return 0; fi
        sleep 0.2; n=$((n - 1))
    done
    return 1
}
delivered() { [ "$(journalctl -u vmaild.service --no-pager | grep -c 'delivered to')" -ge "$1" ]; }
drop() {
    id="$1.$(cat /proc/sys/kernel/random/uuid)@vmail-test.example.test"
    echo "$id" >> $out/message-ids
    runuser -u vmail -- sh -c "printf 'To: %s\nFrom: fax@example.test\nSubject: %s\nMessage-ID: <%s>\n\n%s\n' '$rcpt' '$1' '$id' '$1' > $spool/in/.$1 && mv $spool/in/.$1 $spool/in/$1.eml"
}

wait_for 60 systemctl is-active --quiet vmaild.service || fail "vmaild.service never became active: $(systemctl is-active vmaild.service)"
pid=$(systemctl show -p MainPID --value vmaild.service)
grep -E '^(Uid|Gid|Seccomp|NoNewPrivs|CapEff):' /proc/$pid/status > $out/status
grep -q '^Seccomp:[[:space:]]*2' $out/status || fail "vmaild runs without a seccomp filter: $(cat $out/status)"

# The metrics endpoint on the socket of docs/monitoring.md, when configured.
if grep -q '^metrics-listen = /run/vmail/metrics.sock' /etc/vmail/vsisrv.ini; then
    wait_for 10 test -S /run/vmail/metrics.sock || fail "no /run/vmail/metrics.sock"
    curl -sf --unix-socket /run/vmail/metrics.sock http://vmail/metrics > $out/metrics ||
        fail "curl --unix-socket /run/vmail/metrics.sock failed"
    grep -q '^vmail_' $out/metrics || fail "no vmail_ metric in the scrape"
fi
drop first-job || fail "cannot drop a job into $spool/in as vmail"
wait_for 60 delivered 1 || fail "the first job was not delivered"

systemctl reload vmaild.service || fail "systemctl reload failed"
sleep 1
systemctl is-active --quiet vmaild.service || fail "vmaild.service is not active after the reload"
[ "$(systemctl show -p MainPID --value vmaild.service)" = "$pid" ] || fail "vmaild restarted on reload"
drop after-reload || fail "cannot drop the second job"
wait_for 60 delivered 2 || fail "the job after the reload was not delivered"

systemctl stop vmaild.service
result=$(systemctl show -p Result --value vmaild.service)
[ "$result" = success ] || fail "vmaild.service stopped with Result=$result"
[ "$(systemctl show -p NRestarts --value vmaild.service)" = 0 ] || fail "vmaild.service restarted"
ls -l $spool $spool/capture > $out/spool 2>&1
echo PASS > $out/result
finish
PROBE
chmod 0755 "$M/usr/local/sbin/vmail-unit-probe"
cat >"$M/etc/systemd/system/vmail-unit-probe.service" <<'UNIT'
[Unit]
Description=drives vmaild.service for packaging/tests/unit-in-nspawn.sh
After=vmaild.service
[Service]
Type=oneshot
ExecStart=/usr/local/sbin/vmail-unit-probe
UNIT
ln -sf ../vmail-unit-probe.service "$M/etc/systemd/system/multi-user.target.wants/vmail-unit-probe.service"

# --register=no and --keep-unit: no systemd on the host to register with;
# the host's network is shared (vmaild's network needs are the unit's).
status=0
timeout --kill-after=10 "$LIMIT" systemd-nspawn --quiet -D "$M" --bind="$OUT:/probe" \
    --register=no --keep-unit --link-journal=no --machine="vmail-test-$$" \
    --boot --console=pipe >"$OUT/nspawn.log" 2>&1 </dev/null || status=$?
if [ ! -s "$OUT/result" ]; then
    if [ $status -eq 124 ] || [ $status -eq 137 ]; then
        echo "unit-in-nspawn: the container did not finish within ${LIMIT}s" >&2
        exit 1
    fi
    tail -n 20 "$OUT/nspawn.log" >&2
    skip "systemd did not boot in the container (systemd-nspawn exited $status)"
fi
cat "$OUT/result"
grep -qx PASS "$OUT/result"
