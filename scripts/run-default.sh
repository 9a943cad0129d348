#!/usr/bin/env bash
# Builds vmail and runs vmaild in the foreground on the shipped default
# configuration, config/vsisrv.ini: capture mode, so no mail server is needed
# and every delivered job is written as an .eml file under
# /var/spool/vmail/capture. Stop it with Ctrl-C (it drains, then exits 0).
set -euo pipefail
cd "$(dirname "$0")/.."

config=config/vsisrv.ini
spool=/var/spool/vmail

if ! mkdir -p "$spool" 2>/dev/null || [ ! -w "$spool" ]; then
  echo "run-default: cannot write $spool (the spool of $config); run as root, or" >&2
  echo "             set [VFXSCHED] spool in a copy of $config and pass it to vmaild --config" >&2
  exit 1
fi

cargo build --release --bins --quiet
bin=target/release

"$bin/vmaild" --config "$config" --check-config
cat <<MSG

vmaild is starting on $config (capture mode). In another terminal, try:

  $bin/vfx -c $config -n someone@example.com -s "first job" README.md
  printf 'To: someone@example.com\nSubject: dropped\n\nhello\n' > $spool/in/.hello
  mv $spool/in/.hello $spool/in/hello.eml
  ls $spool/capture $spool/logs

To deliver for real, set [VMAIL] mail-server (and tls, auth-type) in the
configuration, store the login with
  $bin/vfxadmin -c $config config -a -p -e VMAIL auth-rsp
and check the server with $bin/vfxadmin -c $config check.

MSG
exec "$bin/vmaild" --config "$config"
