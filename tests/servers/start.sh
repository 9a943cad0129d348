#!/usr/bin/env bash
# tests/servers/start.sh DIR
#
# Starts a private Postfix (smtpd on several loopback ports, Dovecot SASL, Maildir
# delivery), a private Dovecot (SASL socket, POP3 and POP3S), and for the
# OAuth listener a second Dovecot (SASL only: LOGIN refused, XOAUTH2 and
# OAUTHBEARER checked by its oauth2 passdb) and the OAuth2 token service of
# vmail-testkit (HTTPS; built here with cargo) that it introspects tokens at,
# everything under DIR, and writes DIR/servers.env for the tests
# (crates/vmail-testkit/src/servers.rs reads it). Stop them with stop.sh DIR.
#
# Installs Debian's postfix, dovecot-core, dovecot-pop3d, openssl and s-nail (for the
# local-user test: a mail program through vmail-sendmail) when they
# are missing, without starting the system services. Runs as root.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)   # the cargo workspace
TEMPLATES=$HERE/templates
START_TIMEOUT=${VMAIL_TEST_START_TIMEOUT:-20}   # seconds until every port answers

die() { echo "start.sh: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: $0 DIR"
[ "$(id -u)" -eq 0 ] || die "must run as root (Postfix and Dovecot drop privileges themselves)"
mkdir -p "$1"
DIR=$(cd "$1" && pwd)

PF=$DIR/postfix
DV=$DIR/dovecot
TLS=$DIR/tls
MAIL=$DIR/mail
SASL_SOCKET=$DV/run/auth-postfix
DVO=$DIR/dovecot-oauth             # the second Dovecot: SASL of the oauth listener
OAUTH_SASL_SOCKET=$DVO/run/auth-postfix
TS=$DIR/token-service              # the OAuth2 token service's files
MAIL_UID=65534   # nobody: virtual(8) refuses uid 0, and no user is created
MAIL_GID=65534   # nogroup

# The test users. The second and third have the characters that break naive
# "user:password" splitting, ini parsing and shell quoting (no single quote,
# so that servers.env can quote every value with '...').
USER1=jms1@jms1.net        PASS1='not.my.real.password'
USER2=colon@example.test   PASS2='pa:ss:wd'
USER3=special@example.test PASS3='p@ss w0rd:#;"x"\$%&!'

# ---------------------------------------------------------------- packages
install_packages() {
  local missing=() p
  # prometheus: its promtool checks vmaild's metrics endpoint.
  for p in postfix dovecot-core dovecot-pop3d openssl s-nail prometheus curl; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "start.sh: installing ${missing[*]}" >&2

  # Keep maintainer scripts from starting the system services: a
  # policy-rc.d that says no, put in place only for this install.
  local policy=/usr/sbin/policy-rc.d created_policy=
  if [ ! -e $policy ]; then
    printf '#!/bin/sh\nexit 101\n' > $policy && chmod 755 $policy && created_policy=1
  fi
  echo 'postfix postfix/main_mailer_type select No configuration' | debconf-set-selections
  echo 'postfix postfix/mailname string localhost' | debconf-set-selections

  local rc=0 opts=(-y -q --no-install-recommends -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install "${opts[@]}" "${missing[@]}" >"$DIR/apt.log" 2>&1; then
    # Stale or missing package lists: update once and try again.
    { apt-get update -q && apt-get install "${opts[@]}" "${missing[@]}"; } >>"$DIR/apt.log" 2>&1 || rc=$?
  fi
  [ -n "$created_policy" ] && rm -f $policy
  [ $rc -eq 0 ] || { tail -n 30 "$DIR/apt.log" >&2; die "apt-get install ${missing[*]} failed (full log: $DIR/apt.log)"; }
}

# ---------------------------------------------------------------- ports
# Free loopback ports below the kernel's ephemeral range (so that a test
# binding 127.0.0.1:0 meanwhile cannot take one), not used by any socket.
pick_ports() {
  local n=$1 low used=" " local_addr port picked=()
  low=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range)
  [ "$low" -gt 12000 ] || low=40000
  while read -r _ local_addr _; do
    [[ $local_addr == *:* ]] && used+="$((16#${local_addr##*:})) "
  done < <(cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | tail -n +2)
  port=$((10000 + RANDOM % (low - 10000 - 2000)))
  while [ ${#picked[@]} -lt "$n" ]; do
    port=$((port + 1))
    [ "$port" -lt "$low" ] || port=10000
    [[ $used == *" $port "* ]] || picked+=("$port")
  done
  echo "${picked[*]}"
}

# ---------------------------------------------------------------- files
# render TEMPLATE OUT: replace @KEY@ by the value of shell variable KEY.
render() {
  local text key
  text=$(<"$TEMPLATES/$1")
  for key in PF DV DVO TLS MAIL SASL_SOCKET OAUTH_SASL_SOCKET MAIL_UID MAIL_GID PORT_PLAIN \
             PORT_SUBMISSION PORT_SMTPS PORT_PLAINAUTH PORT_POP3 PORT_POP3S PORT_OAUTH PORT_TOKEN \
             PORT_CLIENTCERT PORT_SELFSIGNED PORT_UTF8 PORT_NO8BITMIME; do
    text=${text//@$key@/${!key}}
  done
  if [[ $text =~ @[A-Z_]+@ ]]; then die "unknown placeholder ${BASH_REMATCH[0]} in $1"; fi
  printf '%s\n' "$text" > "$2"
}

make_certificates() {
  mkdir -p "$TLS"
  local ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
  openssl req -x509 "${ec[@]}" -keyout "$TLS/ca.key" -out "$TLS/ca.pem" -days 30 \
    -subj "/CN=vmail test CA" \
    -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
  openssl req -new "${ec[@]}" -keyout "$TLS/server.key" -out "$TLS/server.csr" \
    -subj "/CN=localhost" 2>/dev/null
  printf '%s\n' basicConstraints=critical,CA:FALSE keyUsage=critical,digitalSignature \
    extendedKeyUsage=serverAuth subjectAltName=DNS:localhost,IP:127.0.0.1 > "$TLS/server.ext"
  openssl x509 -req -in "$TLS/server.csr" -CA "$TLS/ca.pem" -CAkey "$TLS/ca.key" \
    -CAcreateserial -days 30 -extfile "$TLS/server.ext" -out "$TLS/server.pem" 2>/dev/null
  chmod 644 "$TLS/ca.pem" "$TLS/server.pem"
  chmod 600 "$TLS/ca.key" "$TLS/server.key"
  # vmail's client certificate (tls-cert-file/tls-key-file) for the
  # clientcert listener, from the same CA.
  openssl req -new "${ec[@]}" -keyout "$TLS/client.key" -out "$TLS/client.csr" \
    -subj "/CN=vmail test client" 2>/dev/null
  printf '%s\n' basicConstraints=critical,CA:FALSE keyUsage=critical,digitalSignature \
    extendedKeyUsage=clientAuth > "$TLS/client.ext"
  openssl x509 -req -in "$TLS/client.csr" -CA "$TLS/ca.pem" -CAkey "$TLS/ca.key" \
    -CAcreateserial -days 30 -extfile "$TLS/client.ext" -out "$TLS/client.pem" 2>/dev/null
  # The selfsigned listener's certificate: issued by itself, not the CA
  # (what tls-fingerprint pins).
  openssl req -x509 "${ec[@]}" -keyout "$TLS/selfsigned.key" -out "$TLS/selfsigned.pem" \
    -days 30 -subj "/CN=localhost" -addext subjectAltName=DNS:localhost,IP:127.0.0.1 2>/dev/null
  chmod 644 "$TLS/client.pem" "$TLS/selfsigned.pem"
  chmod 600 "$TLS/client.key" "$TLS/selfsigned.key"
  # sha256:<hex> of its DER, as tls-fingerprint takes it.
  SELFSIGNED_FINGERPRINT=sha256:$(openssl x509 -in "$TLS/selfsigned.pem" -outform DER |
    sha256sum | cut -d' ' -f1)
}

write_postfix_config() {
  mkdir -p "$PF/etc" "$PF/spool" "$PF/data" "$PF/log"
  render postfix-main.cf "$PF/etc/main.cf"
  render postfix-master.cf "$PF/etc/master.cf"
  cp "$TEMPLATES/recipient_access" "$TEMPLATES/virtual_mailbox" "$PF/etc/"
  chown postfix "$PF/data"
  # The queue directories are created by `postfix start` itself (its
  # check-fatal step runs post-install create-missing); a separate
  # `postfix check` would repeat the same work and cost 2 s.
}

write_dovecot_config() {
  mkdir -p "$DV/run" "$DV/state" "$DV/log"
  render dovecot.conf "$DV/dovecot.conf"
  local i u p
  : > "$DV/users"
  for i in 1 2 3; do
    u=USER$i p=PASS$i
    printf '%s:{PLAIN.b64}%s::::::\n' "${!u}" "$(printf '%s' "${!p}" | base64 -w0)" >> "$DV/users"
  done
  chown root:dovecot "$DV/users"
  chmod 640 "$DV/users"
}

write_dovecot_oauth_config() {
  mkdir -p "$DVO/run" "$DVO/state" "$DVO/log"
  render dovecot-oauth.conf "$DVO/dovecot.conf"
  # Read by the auth process (user dovecot); holds no secret.
  render dovecot-oauth2.conf.ext "$DVO/oauth2.conf.ext"
  chmod 644 "$DVO/oauth2.conf.ext"
  : > "$DVO/no-users"   # LOGIN's passdb: nobody
  chown root:dovecot "$DVO/no-users"
  chmod 640 "$DVO/no-users"
}

# The token service binary, built from this checkout. Cargo names the file
# it built (its "executable" message), so $CARGO_TARGET_DIR or a configured
# target-dir is honoured without guessing.
build_token_service() {
  local messages
  mkdir -p "$TS"
  messages=$(cd "$ROOT" && cargo build -p vmail-testkit --bin vmail-test-token-service \
    --message-format=json </dev/null 2>"$TS/build.log") ||
    { tail -n 30 "$TS/build.log" >&2; die "cargo build of vmail-test-token-service failed (full log: $TS/build.log)"; }
  TOKEN_SERVICE_BIN=$(sed -n 's/.*"executable":"\([^"]*\/vmail-test-token-service\)".*/\1/p' <<<"$messages" | tail -n 1)
  [ -n "$TOKEN_SERVICE_BIN" ] && [ -x "$TOKEN_SERVICE_BIN" ] ||
    die "cargo build did not name an executable vmail-test-token-service (log: $TS/build.log)"
}

# start_token_service: HTTPS on 127.0.0.1:$PORT_TOKEN with the servers'
# certificate (localhost and 127.0.0.1, test CA); ready once it has written
# its URL into $TS/ready. Its PID is recorded for stop.sh.
start_token_service() {
  local deadline=$((SECONDS + START_TIMEOUT))
  rm -f "$TS/ready"
  "$TOKEN_SERVICE_BIN" --listen "127.0.0.1:$PORT_TOKEN" --cert "$TLS/server.pem" \
    --key "$TLS/server.key" --ca "$TLS/ca.pem" --ready-file "$TS/ready" \
    </dev/null >"$TS/token-service.log" 2>&1 &
  TS_PID=$!
  echo "$TS_PID" > "$TS/pid"
  until [ -s "$TS/ready" ]; do
    alive "$TS_PID" || fail "the token service exited: $(tail -n 5 "$TS/token-service.log")"
    [ $SECONDS -lt $deadline ] || fail "the token service is not ready after ${START_TIMEOUT}s"
    sleep 0.05
  done
}

# ---------------------------------------------------------------- daemons
log_tails() {
  echo "--- last lines of $PF/log/maillog:" >&2
  tail -n 20 "$PF/log/maillog" >&2 2>/dev/null || true
  echo "--- last lines of $DV/log/dovecot.log:" >&2
  tail -n 20 "$DV/log/dovecot.log" >&2 2>/dev/null || true
  echo "--- last lines of $DVO/log/dovecot.log:" >&2
  tail -n 20 "$DVO/log/dovecot.log" >&2 2>/dev/null || true
  echo "--- last lines of $TS/token-service.log:" >&2
  tail -n 20 "$TS/token-service.log" >&2 2>/dev/null || true
}

fail() { echo "start.sh: $*" >&2; log_tails; bash "$HERE/stop.sh" "$DIR" >&2 || true; exit 1; }

# greets PORT [tls]: the service on PORT sends its greeting (220 or +OK);
# over implicit TLS, with the certificate verified against our CA for
# "localhost". Over TLS the QUIT goes out right after the handshake (both
# servers read it after their greeting); in clear text after the greeting,
# so that Postfix logs no "improper command pipelining".
greets() {
  local line
  if [ "${2:-}" = tls ]; then
    line=$(printf 'QUIT\r\n' | timeout 2 openssl s_client -quiet -ign_eof -crlf \
      -connect "127.0.0.1:$1" -CAfile "$TLS/ca.pem" -verify_return_error \
      -verify_hostname localhost 2>/dev/null | head -n 1) || true
  else
    line=$(timeout 2 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" && IFS= read -r line <&3 &&
      printf "QUIT\r\n" >&3 && printf "%s\n" "$line"' _ "$1" 2>/dev/null) || true
  fi
  [[ $line == "220 "* || $line == "+OK"* ]]
}

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# wait_until_up: both masters alive, the SASL socket there, and every
# service greeting (a listener whose daemon is broken still accepts the
# connection: Postfix's master holds the socket, so connecting is not enough).
wait_until_up() {
  local deadline=$((SECONDS + START_TIMEOUT)) down service
  local -A greeted=()
  local services=("plain $PORT_PLAIN" "submission $PORT_SUBMISSION" "smtps $PORT_SMTPS tls"
    "plainauth $PORT_PLAINAUTH" "pop3 $PORT_POP3" "pop3s $PORT_POP3S tls" "oauth $PORT_OAUTH"
    "clientcert $PORT_CLIENTCERT" "selfsigned $PORT_SELFSIGNED" "utf8 $PORT_UTF8"
    "no8bitmime $PORT_NO8BITMIME")
  while :; do
    PF_PID=$(tr -d ' \n' 2>/dev/null < "$PF/spool/pid/master.pid" || true)
    DV_PID=$(tr -d ' \n' 2>/dev/null < "$DV/run/master.pid" || true)
    DVO_PID=$(tr -d ' \n' 2>/dev/null < "$DVO/run/master.pid" || true)
    down=
    alive "$PF_PID" || down+=" postfix-master"
    alive "$DV_PID" || down+=" dovecot"
    alive "$DVO_PID" || down+=" dovecot-oauth"
    alive "$TS_PID" || down+=" token-service"
    [ -S "$SASL_SOCKET" ] || down+=" $SASL_SOCKET"
    [ -S "$OAUTH_SASL_SOCKET" ] || down+=" $OAUTH_SASL_SOCKET"
    for service in "${services[@]}"; do
      [ -n "${greeted[$service]:-}" ] && continue
      # shellcheck disable=SC2086 # "name port [tls]" splits on purpose
      set -- $service
      if greets "$2" "${3:-}"; then greeted[$service]=1; else down+=" $1(127.0.0.1:$2)"; fi
    done
    [ -z "$down" ] && return 0
    [ $SECONDS -lt $deadline ] || fail "not up after ${START_TIMEOUT}s:$down"
    sleep 0.1
  done
}

q() { printf "'%s'" "$1"; }   # values never contain a single quote

write_env() {
  local tmp=$DIR/servers.env.tmp
  cat > "$tmp" <<EOF
# Written by tests/servers/start.sh; read by vmail-testkit (servers.rs).
VMAIL_TEST_DIR=$(q "$DIR")
VMAIL_TEST_HOST=127.0.0.1
VMAIL_TEST_TLS_NAME=localhost
VMAIL_TEST_SMTP_PLAIN_PORT=$PORT_PLAIN
VMAIL_TEST_SMTP_SUBMISSION_PORT=$PORT_SUBMISSION
VMAIL_TEST_SMTPS_PORT=$PORT_SMTPS
VMAIL_TEST_SMTP_PLAINAUTH_PORT=$PORT_PLAINAUTH
VMAIL_TEST_POP3_PORT=$PORT_POP3
VMAIL_TEST_POP3S_PORT=$PORT_POP3S
VMAIL_TEST_CA_CERT=$(q "$TLS/ca.pem")
VMAIL_TEST_MAILDIR_ROOT=$(q "$MAIL")
VMAIL_TEST_MESSAGE_SIZE_LIMIT=10485760
VMAIL_TEST_USER=$(q "$USER1")
VMAIL_TEST_PASSWORD=$(q "$PASS1")
VMAIL_TEST_COLON_USER=$(q "$USER2")
VMAIL_TEST_COLON_PASSWORD=$(q "$PASS2")
VMAIL_TEST_SPECIAL_USER=$(q "$USER3")
VMAIL_TEST_SPECIAL_PASSWORD=$(q "$PASS3")
VMAIL_TEST_DEFER_RCPT=defer@example.test
VMAIL_TEST_REJECT_RCPT=reject@example.test
VMAIL_TEST_UNKNOWN_RCPT=nobody@unknown.invalid
VMAIL_TEST_POSTFIX_PID=$PF_PID
VMAIL_TEST_DOVECOT_PID=$DV_PID
VMAIL_TEST_POSTFIX_LOG=$(q "$PF/log/maillog")
VMAIL_TEST_DOVECOT_LOG=$(q "$DV/log/dovecot.log")
VMAIL_TEST_SMTP_OAUTH_PORT=$PORT_OAUTH
VMAIL_TEST_TOKEN_SERVICE_URL=$(q "https://127.0.0.1:$PORT_TOKEN")
VMAIL_TEST_TOKEN_SERVICE_PID=$TS_PID
VMAIL_TEST_TOKEN_SERVICE_LOG=$(q "$TS/token-service.log")
VMAIL_TEST_DOVECOT_OAUTH_PID=$DVO_PID
VMAIL_TEST_DOVECOT_OAUTH_LOG=$(q "$DVO/log/dovecot.log")
VMAIL_TEST_SMTP_CLIENTCERT_PORT=$PORT_CLIENTCERT
VMAIL_TEST_CLIENT_CERT=$(q "$TLS/client.pem")
VMAIL_TEST_CLIENT_KEY=$(q "$TLS/client.key")
VMAIL_TEST_SMTP_SELFSIGNED_PORT=$PORT_SELFSIGNED
VMAIL_TEST_SELFSIGNED_FINGERPRINT=$SELFSIGNED_FINGERPRINT
VMAIL_TEST_SMTP_UTF8_PORT=$PORT_UTF8
VMAIL_TEST_SMTP_NO8BITMIME_PORT=$PORT_NO8BITMIME
EOF
  mv "$tmp" "$DIR/servers.env"
}

# ---------------------------------------------------------------- main
install_packages

# A previous run in DIR: stop it by its recorded PIDs, then start afresh.
bash "$HERE/stop.sh" "$DIR"
rm -rf "${DIR:?}/postfix" "${DIR:?}/dovecot" "${DIR:?}/tls" "${DIR:?}/mail" \
  "${DIR:?}/dovecot-oauth" "${DIR:?}/token-service"

read -r PORT_PLAIN PORT_SUBMISSION PORT_SMTPS PORT_PLAINAUTH PORT_POP3 PORT_POP3S PORT_OAUTH \
  PORT_TOKEN PORT_CLIENTCERT PORT_SELFSIGNED PORT_UTF8 PORT_NO8BITMIME <<<"$(pick_ports 12)"
# Before anything is started: a failed build leaves nothing to stop.
build_token_service

make_certificates
mkdir -p "$MAIL"
chown "$MAIL_UID:$MAIL_GID" "$MAIL"
write_postfix_config
write_dovecot_config
write_dovecot_oauth_config

# The daemons' own stdio goes to files: a daemon that kept our stdout would
# keep a caller's pipe (`start.sh | tee`) open until it stops.
start_token_service   # before the Dovecot that introspects at it
dovecot -c "$DV/dovecot.conf" </dev/null >"$DV/log/start.out" 2>&1 ||
  fail "dovecot did not start: $(cat "$DV/log/start.out")"
dovecot -c "$DVO/dovecot.conf" </dev/null >"$DVO/log/start.out" 2>&1 ||
  fail "the OAuth dovecot did not start: $(cat "$DVO/log/start.out")"
postfix -c "$PF/etc" start </dev/null >"$PF/log/start.out" 2>&1 ||
  fail "postfix did not start: $(cat "$PF/log/start.out")"
wait_until_up
write_env
echo "start.sh: Postfix (pid $PF_PID) smtp plain=$PORT_PLAIN submission=$PORT_SUBMISSION smtps=$PORT_SMTPS plainauth=$PORT_PLAINAUTH oauth=$PORT_OAUTH clientcert=$PORT_CLIENTCERT selfsigned=$PORT_SELFSIGNED utf8=$PORT_UTF8 no8bitmime=$PORT_NO8BITMIME; Dovecot (pid $DV_PID) pop3=$PORT_POP3 pop3s=$PORT_POP3S; OAuth Dovecot (pid $DVO_PID); token service (pid $TS_PID) https://127.0.0.1:$PORT_TOKEN; $DIR/servers.env" >&2
