# %preun of vmail ($1: 0 on removal, 1 or more on upgrade). On removal,
# stop vmaild (SIGTERM drains: sessions in flight finish; queued jobs stay
# in /var/spool/vmail) and say what stays behind, as the .deb's prerm does.
SPOOL=/var/spool/vmail

# count DIR: the entries in DIR that are jobs or drops (not state records,
# reasons or hidden files being written), 0 if DIR cannot be read.
count() {
    if [ -d "$1" ]; then
        find "$1" -mindepth 1 -maxdepth 1 -type f ! -name '.*' ! -name '*.state' \
            ! -name '*.reason' 2>/dev/null | wc -l
    else
        echo 0
    fi
}

if [ "$1" -eq 0 ]; then
    if command -v systemctl >/dev/null 2>&1; then
        systemctl --no-reload disable --now vmaild.service >/dev/null 2>&1 || :
    fi
    queued=$(count "$SPOOL/queue")
    waiting=$(( $(count "$SPOOL/in") + $(count "$SPOOL/maildrop") ))
    if [ "$queued" -gt 0 ] || [ "$waiting" -gt 0 ]; then
        echo "vmail: $queued job(s) still queued in $SPOOL/queue and $waiting file(s)" \
            "not yet picked up in $SPOOL/in and $SPOOL/maildrop; they are not sent while" \
            "vmail is removed. They stay there: reinstall vmail to send them" \
            "(or delete $SPOOL)." >&2
    fi
fi
exit 0
