# vmail fed by its drop folder: the harness renames each message into
# spool/in/<id>.eml, vmaild picks it up by inotify (fsynced into queue/
# before it is relied on) and delivers over reused SMTP sessions.
VMAIL_SYSTEM=vmail-drop
source "$(dirname "${BASH_SOURCE[0]}")/_vmail-common.sh"
DESCRIPTION="vmail $(cd "$VMAIL_SRC" && git describe --always --dirty 2>/dev/null) (vmaild, files renamed into spool/in, release build of this checkout)"
DROP_DIR=$VM/spool/in
DROP_SUFFIX=.eml
setup() { vmail_setup; }
start() { vmail_start; }
stop() { vmail_stop; }
