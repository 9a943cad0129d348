# %post of vmail ($1: 1 on install, 2 or more on upgrade). Owners and modes
# of the package's own paths come from %attr; this gives vmail a spool left
# by a run as root, makes the key that seals secrets, and presets the unit.
SPOOL=/var/spool/vmail
ETC=/etc/vmail
KEY=$ETC/vmail.key

# A spool that vmaild ran in as root before the package came (the README's
# `bash scripts/run-default.sh` as root) is root's, and vmaild as vmail could
# not open it. Give to vmail what root owns there; what another user owns
# (a fax server's drops in in/, the submissions in maildrop/) stays. chown
# -h: a link is changed itself, never followed; -xdev: nor onto another
# filesystem.
found=$(find -H "$SPOOL" -xdev -path "$SPOOL/maildrop" -prune -o \
    \( -user root -o -group root \) -print 2>/dev/null | wc -l)
if [ "$found" -gt 0 ]; then
    find -H "$SPOOL" -xdev -path "$SPOOL/maildrop" -prune -o \
        -user root -exec chown -h vmail {} +
    find -H "$SPOOL" -xdev -path "$SPOOL/maildrop" -prune -o \
        -group root -exec chgrp -h vmail {} +
    echo "vmail: $found file(s) and folder(s) under $SPOOL belonged to root" \
        "(a run as root before the package); they are vmail's now, so vmaild can use them"
fi

# The key that seals secrets in the ini: 32 random bytes as 64 hex digits,
# mode 0600, owned by vmail so that vmaild (running as vmail) can read it;
# vfxadmin, run as root, uses the same file.
if [ ! -e "$KEY" ] && [ ! -L "$KEY" ]; then
    # Read first and checked: in a pipeline into the file, a failing od
    # (no /dev/urandom in a chroot) would leave an empty key behind.
    hex=$(od -An -vtx1 -N32 /dev/urandom | tr -d ' \n')
    if [ ${#hex} -ne 64 ]; then
        # Not fatal: rpm would keep the installed files all the same.
        echo "vmail: cannot read 32 random bytes from /dev/urandom: $KEY not made;" \
            "reinstall (dnf reinstall vmail) where /dev/urandom can be read" >&2
    else
        tmp=$(mktemp "$ETC/.vmail.key.XXXXXX")
        echo "$hex" >"$tmp"
        chmod 0600 "$tmp"
        chown vmail:vmail "$tmp"
        mv "$tmp" "$KEY"
    fi
elif [ -f "$KEY" ] && [ ! -L "$KEY" ]; then
    chown vmail:vmail "$KEY"
    chmod 0600 "$KEY"
fi

# As %systemd_post does: on the first install, the unit is enabled or not
# as the system's presets say (Red Hat's default: not; `systemctl enable
# --now vmaild` once configured).
if [ "$1" -eq 1 ] && command -v systemctl >/dev/null 2>&1; then
    systemctl --no-reload preset vmaild.service >/dev/null 2>&1 || :
fi
exit 0
