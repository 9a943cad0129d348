# vmail through its sendmail shim: one vmail-sendmail process per message
# writes the job into spool/queue (temp, fsync, link, fsync of the folder);
# vmaild sees it by inotify and delivers over reused SMTP sessions.
VMAIL_SYSTEM=vmail
source "$(dirname "${BASH_SOURCE[0]}")/_vmail-common.sh"
DESCRIPTION="vmail $(cd "$VMAIL_SRC" && git describe --always --dirty 2>/dev/null) (vmaild + vmail-sendmail, release build of this checkout)"
SUBMIT=("$VMAIL_BIN/vmail-sendmail" -C "$VMAIL_INI" -i -f "$BENCH_FROM" "$BENCH_TO")
TRACK_EXE=("$VMAIL_BIN/vmail-sendmail")
setup() { vmail_setup; }
start() { vmail_start; }
stop() { vmail_stop; }
