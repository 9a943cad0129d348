# %postun of vmail ($1: 0 on removal, 1 or more on upgrade). As
# %systemd_postun_with_restart: systemd re-reads its units, and an upgrade
# restarts a running vmaild (it drains first). A removal keeps the key, a
# changed vsisrv.ini (as vsisrv.ini.rpmsave), the spool with any mail still
# in it and the vmail user (Fedora's rule: system users are never removed).
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    if [ "$1" -ge 1 ]; then
        systemctl try-restart vmaild.service >/dev/null 2>&1 || :
    fi
fi
exit 0
