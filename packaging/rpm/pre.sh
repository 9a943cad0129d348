# %pre of vmail: the system group and user vmail, before the files come, so
# that rpm can give them their group (%attr: vmail-postdrop setgid vmail,
# /etc/vmail, the spool). The same user as the .deb's postinst makes: no
# login shell, home /var/spool/vmail (not created here: the package owns it).
if ! getent group vmail >/dev/null; then
    groupadd --system vmail
fi
if ! getent passwd vmail >/dev/null; then
    useradd --system --gid vmail --home-dir /var/spool/vmail --no-create-home \
        --shell /usr/sbin/nologin --comment "vmail relay daemon" vmail
fi
exit 0
