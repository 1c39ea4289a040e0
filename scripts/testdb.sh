#!/usr/bin/env bash
# Throwaway MariaDB server for amysql's integration tests.
#
#   scripts/testdb.sh start       start it (no-op if already running)
#   scripts/testdb.sh stop        shut it down and delete its state dir
#   scripts/testdb.sh status      print "running ..." (exit 0) or "stopped" (exit 1)
#   scripts/testdb.sh dsn         mysql://amy:amy_pw@127.0.0.1:PORT/amysql_test?ssl_mode=disabled
#   scripts/testdb.sh dsn-socket  mysql://amy:amy_pw@localhost/amysql_test?socket=SOCK
#   scripts/testdb.sh env         export lines, for: eval "$(scripts/testdb.sh env)"
#   scripts/testdb.sh env-variant only the export lines of this instance's TLS mode
#                                 (below), to add a variant's to another's env
#   scripts/testdb.sh restart [S] shut the server down, wait S seconds, start it again
#   scripts/testdb.sh ha-CMD ...  the replication + Galera topology of the HA
#                                 tests: scripts/testdb-ha.sh CMD ... (see there)
#
# It runs Debian's mariadbd (package mariadb-server) directly, no system service:
# data, pid file, error log and unix socket live in ${AMY_TESTDB_DIR:-<repo>/.testdb}.
# TCP listens on 127.0.0.1 and 127.0.0.2 (loopback only; the second address is
# how the TLS tests get a certificate name mismatch), on the first free port
# from 33061 upward (or $AMY_TESTDB_PORT). The users and database come from
# docker/init.sql. Messages go to stderr; stdout carries only what
# status/dsn/env print.
#
# TLS, chosen by AMY_TESTDB_TLS at start (the other commands use what start
# recorded in the state dir):
#   on (default)  the server presents server-cert.pem (subjectAltName
#                 IP:127.0.0.1, DNS:localhost); env adds AMY_TEST_TLS_DIR,
#                 AMY_TEST_TLS_DSN, AMY_TEST_TLS_PORT
#   expired       it presents expired-cert.pem: same CA, validity entirely in
#                 the past; env adds AMY_TEST_TLS_DIR, AMY_TEST_EXPIRED_DSN
#   off           no TLS at all (--skip-ssl); env adds AMY_TEST_PLAIN_DSN (amy)
#                 and AMY_TEST_PLAIN_SSL_DSN (amy_ssl, who must be refused)
# AMY_TEST_DSN and AMY_TEST_SPECIAL_DSN (TCP) say ssl_mode=disabled: the
# general tests stay plaintext whatever the library's default (preferred).
# The *_TLS_DSN, *_PLAIN_* and *_EXPIRED_DSN have no ssl_mode key. On and
# expired need a throwaway PKI in $STATE/tls, made with openssl at start (see
# make_pki for the files); with AMY_TESTDB_PKI=DIR it is copied from DIR
# instead, e.g. another instance's tls dir, so that an expired instance is
# signed by the CA the main instance's clients trust. start waits for DIR to
# be complete, so both instances can be started at the same time.
#
# Environment: AMY_TESTDB_DIR, AMY_TESTDB_PORT, AMY_TESTDB_TLS, AMY_TESTDB_PKI,
# AMY_TESTDB_START_TIMEOUT and AMY_TESTDB_STOP_TIMEOUT (seconds, default 30).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
STATE=${AMY_TESTDB_DIR:-$REPO/.testdb}
case $STATE in
/*) ;;
*) STATE=$PWD/$STATE ;;
esac
STATE=${STATE%/}

MARKER=$STATE/.amy-testdb  # proves we created the dir, so stop may delete it
DATA=$STATE/data
SERVER_PID=$STATE/server.pid # pid as this script knows it
MYSQLD_PID=$STATE/mysqld.pid # pid file written by mariadbd itself
ERRLOG=$STATE/error.log
INSTALL_LOG=$STATE/install.log
PORTFILE=$STATE/port
SOCKDIRFILE=$STATE/sockdir # present only when the socket lives under /tmp
MODEFILE=$STATE/tls-mode   # on, expired or off, as start was asked
TLS=$STATE/tls             # the PKI, for modes on and expired
PKI_LOG=$STATE/pki.log
# The server's own tmpdir, not /tmp: a mariadbd starting up deletes every
# #sql* file in its tmpdir, i.e. the temporary tables of any other server
# using the same one (parallel mariadb-install-db runs failed that way).
TMPD=$STATE/tmp
INIT_SQL=$REPO/docker/init.sql
NAME=${STATE##*/}          # in messages: several instances may start at once

START_TIMEOUT=${AMY_TESTDB_START_TIMEOUT:-30}
STOP_TIMEOUT=${AMY_TESTDB_STOP_TIMEOUT:-30}
FIRST_PORT=${AMY_TESTDB_PORT:-33061}
PORT_TRIES=100
SOCK_MAX=100 # sun_path holds 108 bytes; stay well clear
BIND_ADDRS=127.0.0.1,127.0.0.2 # a list: MariaDB >= 10.11 takes several
# What make_pki leaves in $TLS, and what AMY_TESTDB_PKI=DIR must hold.
PKI_FILES=(ca.pem ca-key.pem server-cert.pem server-key.pem
	client-cert.pem client-key.pem other-ca.pem other-ca-key.pem
	expired-cert.pem expired-key.pem server-cert.sha1 server-cert.sha256)

# find_bin, need_bin, alive, shquote, export_var (shared with testdb-ha.sh)
# shellcheck source=scripts/testdb-lib.sh
. "$REPO/scripts/testdb-lib.sh"

log() { printf 'testdb[%s]: %s\n' "$NAME" "$*" >&2; }
die() {
	log "$*"
	exit 1
}

usage() {
	cat >&2 <<EOF
usage: $0 start|stop|status|dsn|dsn-socket|env|env-variant|restart [S]
  state dir: $STATE (set AMY_TESTDB_DIR to change)
  start: AMY_TESTDB_TLS=on|expired|off (default on), AMY_TESTDB_PKI=DIR,
         AMY_TESTDB_PORT=FIRST (default 33061)
EOF
	exit 2
}


# tls_mode : the TLS mode start recorded; off for a state dir without one
# (what a server started before there were modes ran with).
tls_mode() {
	if [[ -f $MODEFILE ]]; then
		cat -- "$MODEFILE"
	else
		printf 'off\n'
	fi
}

# make_pki : writes the test PKI into the current directory (umask 077 set by
# the caller). EC P-256 keys: the whole PKI takes well under 0.1 s.
#   ca.pem, ca-key.pem              the test CA (the servers' --ssl-ca)
#   server-cert.pem, server-key.pem signed by it, SAN IP:127.0.0.1, DNS:localhost
#                                   only (127.0.0.2 must not match), 10 years
#   client-cert.pem, client-key.pem signed by it, for amy_x509 (REQUIRE X509)
#   other-ca.pem, other-ca-key.pem  an unrelated CA, for "wrong CA" tests
#   expired-cert.pem, expired-key.pem signed by the CA, SAN as the server's,
#                                   valid only in 2020
#   server-cert.sha1, .sha256       the server cert's fingerprint as
#                                   "openssl x509 -fingerprint" prints it (AB:CD:...)
make_pki() {
	local -a key=(-newkey ec -pkeyopt ec_paramgen_curve:P-256 -noenc)
	local -a req=("$OPENSSL" req -config scratch/openssl.cnf)
	local fp alg
	mkdir scratch
	# A config of our own: the system's openssl.cnf may add or demand things.
	# The [test_ca] part is only for "openssl ca", the one OpenSSL 3.0 command
	# that can date a certificate in the past (-startdate/-enddate; x509's
	# -not_before is 3.4+).
	cat >scratch/openssl.cnf <<'EOF'
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[ca_ext]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[server_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1,DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[client_ext]
basicConstraints = CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[ca]
default_ca = test_ca
[test_ca]
database = scratch/index.txt
default_md = sha256
policy = any_name
unique_subject = no
rand_serial = yes
[any_name]
commonName = supplied
EOF
	: >scratch/index.txt
	"${req[@]}" -x509 "${key[@]}" -keyout ca-key.pem -out ca.pem -days 3650 \
		-subj '/CN=amysql test CA' -extensions ca_ext
	"${req[@]}" -x509 "${key[@]}" -keyout other-ca-key.pem -out other-ca.pem -days 3650 \
		-subj '/CN=amysql other CA' -extensions ca_ext
	"${req[@]}" -x509 -CA ca.pem -CAkey ca-key.pem "${key[@]}" -days 3650 \
		-keyout server-key.pem -out server-cert.pem -subj '/CN=localhost' -extensions server_ext
	"${req[@]}" -x509 -CA ca.pem -CAkey ca-key.pem "${key[@]}" -days 3650 \
		-keyout client-key.pem -out client-cert.pem -subj '/CN=amy_x509' -extensions client_ext
	"${req[@]}" -new "${key[@]}" -keyout expired-key.pem -out scratch/expired.csr \
		-subj '/CN=localhost'
	"$OPENSSL" ca -config scratch/openssl.cnf -batch -notext -cert ca.pem -keyfile ca-key.pem \
		-in scratch/expired.csr -out expired-cert.pem -outdir scratch \
		-startdate 20200101000000Z -enddate 20210101000000Z -extensions server_ext
	for alg in sha1 sha256; do
		fp=$("$OPENSSL" x509 -in server-cert.pem -noout -fingerprint "-$alg")
		printf '%s\n' "${fp#*=}" >"server-cert.$alg" # drop "sha1 Fingerprint="
	done
	rm -rf scratch
	# Keys stay 0600 (umask); the rest may be read by anyone.
	chmod 0644 ./*.pem ./*.sha1 ./*.sha256
	chmod 0600 ./*-key.pem
}

# gen_pki : makes the PKI in $TLS. Built in a temporary dir and renamed, so
# $TLS exists only once complete: another instance copying it may be waiting.
gen_pki() {
	local tmp t0=$SECONDS
	need_bin OPENSSL openssl
	tmp=$(mktemp -d "$TLS.tmp.XXXXXX")
	# A job of its own, not "if ! (...)": inside that, errexit would be off and
	# a failed openssl step would go unnoticed.
	(
		cd -- "$tmp"
		umask 077
		make_pki
	) >"$PKI_LOG" 2>&1 &
	if ! wait "$!"; then
		tail -n 40 -- "$PKI_LOG" >&2
		rm -rf -- "$tmp"
		die "making the test PKI with openssl failed (log above)"
	fi
	chmod 0755 -- "$tmp"
	mv -- "$tmp" "$TLS"
	log "test PKI in $TLS ($((SECONDS - t0))s)"
}

# copy_pki SRC : copies the PKI files from SRC into $TLS, waiting up to
# START_TIMEOUT for all of them: the instance making SRC may be starting too.
copy_pki() {
	local src=$1 f tmp deadline=$((SECONDS + START_TIMEOUT)) missing waited=0
	case $src in
	/*) ;;
	*) src=$PWD/$src ;;
	esac
	src=${src%/}
	[[ $src != "$TLS" ]] || die "AMY_TESTDB_PKI is this instance's own $TLS"
	while :; do
		missing=
		for f in "${PKI_FILES[@]}"; do
			[[ -f $src/$f ]] || missing+=" $f"
		done
		[[ -n $missing ]] || break
		((SECONDS < deadline)) || die "AMY_TESTDB_PKI=$src: still missing after ${START_TIMEOUT}s:$missing"
		if ((!waited)); then
			log "waiting for the PKI in $src"
			waited=1
		fi
		sleep 0.1
	done
	tmp=$(mktemp -d "$TLS.tmp.XXXXXX")
	for f in "${PKI_FILES[@]}"; do
		cp -p -- "$src/$f" "$tmp/$f" || die "cannot copy $src/$f"
	done
	chmod 0755 -- "$tmp"
	mv -- "$tmp" "$TLS"
	log "test PKI copied from $src"
}

# tls_args MODE : sets TLS_ARGS to mariadbd's TLS options for MODE.
tls_args() {
	case $1 in
	on) TLS_ARGS=(--ssl-ca="$TLS/ca.pem" --ssl-cert="$TLS/server-cert.pem" --ssl-key="$TLS/server-key.pem") ;;
	expired) TLS_ARGS=(--ssl-ca="$TLS/ca.pem" --ssl-cert="$TLS/expired-cert.pem" --ssl-key="$TLS/expired-key.pem") ;;
	off) TLS_ARGS=(--skip-ssl) ;;
	*) die "unknown TLS mode '$1' in $MODEFILE" ;;
	esac
}

# running_pid : prints the server's pid if our server is running.
running_pid() { server_pid "$SERVER_PID"; }

sock_path() {
	if [[ -f $SOCKDIRFILE ]]; then
		printf '%s/mysqld.sock\n' "$(<"$SOCKDIRFILE")"
	else
		printf '%s/mysqld.sock\n' "$STATE"
	fi
}

port() {
	[[ -f $PORTFILE ]] || die "no port recorded in $PORTFILE"
	cat "$PORTFILE"
}

# port_in_use PORT : something listens on it (or answers on 127.0.0.1).
port_in_use() {
	local p=$1
	if command -v ss >/dev/null 2>&1 &&
		ss -Htln "sport = :$p" 2>/dev/null | grep -q .; then
		return 0
	fi
	# A plain connect catches what ss cannot see (or when ss is missing).
	if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
		return 0
	fi
	return 1
}

# free_port FROM : first port >= FROM with nothing listening.
free_port() {
	local p=$1 end=$(($1 + PORT_TRIES))
	while ((p < end && p < 65536)); do
		if ! port_in_use "$p"; then
			printf '%s\n' "$p"
			return 0
		fi
		p=$((p + 1))
	done
	die "no free TCP port in $1..$((end - 1))"
}

# Deletes the state dir (only if we made it) and the /tmp socket dir, if any.
remove_state() {
	local sd
	[[ -e $STATE ]] || return 0
	[[ -f $MARKER ]] || die "$STATE was not created by testdb.sh; not deleting it"
	if [[ -f $SOCKDIRFILE ]]; then
		sd=$(<"$SOCKDIRFILE")
		case $sd in
		/tmp/amy-testdb.*) rm -rf -- "$sd" ;;
		esac
	fi
	rm -rf -- "$STATE"
}

# urlencode STRING [KEEP] : percent-encodes all but unreserved chars and KEEP.
urlencode() {
	local LC_ALL=C s=$1 keep=${2:-} out='' c i
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case $c in
		[A-Za-z0-9._~-]) out+=$c ;;
		*)
			if [[ -n $keep && $keep == *"$c"* ]]; then
				out+=$c
				continue
			fi
			printf -v c '%%%02X' "'$c"
			out+=$c
			;;
		esac
	done
	printf '%s' "$out"
}

# dsn_user USER PASSWORD : a TCP DSN on 127.0.0.1 without any parameters.
dsn_user() { printf 'mysql://%s:%s@127.0.0.1:%s/amysql_test\n' "$1" "$2" "$(port)"; }
dsn_tcp() { dsn_user amy amy_pw; }
# AMY_TEST_DSN: the general tests run plaintext, as before ssl_mode existed.
dsn_general() { printf '%s?ssl_mode=disabled\n' "$(dsn_tcp)"; }
dsn_special() {
	printf 'mysql://amy_special:%s@127.0.0.1:%s/amysql_test?ssl_mode=disabled\n' \
		"$(urlencode 'p@ss:w/rd%?&')" "$(port)"
}
dsn_socket() {
	printf 'mysql://amy:amy_pw@localhost/amysql_test?socket=%s\n' "$(urlencode "$(sock_path)" /)"
}

require_running() {
	running_pid >/dev/null || die "server is not running (start it: $0 start)"
}

# launch PORT SOCK : starts mariadbd in the background, records its pid.
launch() {
	local port=$1 sock=$2 pid
	local -a TLS_ARGS
	tls_args "$(tls_mode)"
	: >"$ERRLOG"
	rm -f -- "$MYSQLD_PID"
	# setsid + closed stdio: the server outlives this script, takes no terminal
	# signals, and holds no pipe open for a caller doing "$(testdb.sh start)".
	local -a runner=()
	if command -v setsid >/dev/null 2>&1; then runner=(setsid); fi
	"${runner[@]}" "$MARIADBD" --no-defaults \
		--user="$(id -un)" \
		--datadir="$DATA" \
		--tmpdir="$TMPD" \
		--socket="$sock" \
		--port="$port" \
		--bind-address="$BIND_ADDRS" \
		"${TLS_ARGS[@]}" \
		--pid-file="$MYSQLD_PID" \
		--log-error="$ERRLOG" \
		--max-connections=2000 \
		--skip-name-resolve \
		--character-set-server=utf8mb4 \
		--collation-server=utf8mb4_general_ci \
		</dev/null >>"$STATE/mariadbd.out" 2>&1 &
	pid=$!
	printf '%s\n' "$pid" >"$SERVER_PID"
}

# wait_ready SOCK : 0 ready, 2 died on a taken port, 1 died otherwise, 3 timeout.
# shellcheck disable=SC2153 # ADMIN: set by need_bin
wait_ready() { wait_answering "$ADMIN" "$1" "$SERVER_PID" "$MYSQLD_PID" "$ERRLOG" "$START_TIMEOUT"; }

show_log() {
	local f
	for f in "$INSTALL_LOG" "$STATE/mariadbd.out" "$ERRLOG"; do
		if [[ -s $f ]]; then
			printf -- '----- %s -----\n' "$f" >&2
			tail -n 60 -- "$f" >&2
		fi
	done
}

# check_instance PORT MODE : the users log in over TCP on both addresses and
# the server's TLS is what MODE says; dies otherwise.
check_instance() {
	local port=$1 mode=$2 addr out
	local -a cl=("$CLIENT" --no-defaults -h127.0.0.1 -P"$port" -N -B)
	for addr in 127.0.0.1 127.0.0.2; do
		if ! "$CLIENT" --no-defaults -uamy -pamy_pw -h"$addr" -P"$port" amysql_test \
			-e 'SELECT 1' >/dev/null; then
			die "user amy cannot log in over TCP on $addr:$port"
		fi
	done
	case $mode in
	on)
		# Verifies the whole PKI at once: CA, server cert and its IP SAN, client cert.
		out=$("${cl[@]}" --ssl-ca="$TLS/ca.pem" --ssl-verify-server-cert \
			--ssl-cert="$TLS/client-cert.pem" --ssl-key="$TLS/client-key.pem" \
			-uamy_x509 -pamy_x509_pw -e "SHOW STATUS LIKE 'Ssl_cipher'") ||
			die "amy_x509 cannot log in with a verified TLS connection"
		;;
	expired)
		out=$("${cl[@]}" --ssl -uamy_ssl -pamy_ssl_pw -e "SHOW STATUS LIKE 'Ssl_cipher'") ||
			die "amy_ssl cannot log in over TLS"
		;;
	off)
		out=$("${cl[@]}" -uamy -pamy_pw -e 'SELECT @@have_ssl') || die "cannot read have_ssl"
		[[ $out == DISABLED ]] || die "TLS is off but have_ssl is '$out'"
		return 0
		;;
	esac
	[[ $out =~ ^Ssl_cipher[[:space:]]+[^[:space:]] ]] || die "no TLS cipher in use: '$out'"
}

cmd_start() {
	local pid sock sd port rc attempt t0=$SECONDS mode=${AMY_TESTDB_TLS:-on} pki=${AMY_TESTDB_PKI:-}
	case $mode in
	on | expired | off) ;;
	*) die "AMY_TESTDB_TLS must be on, expired or off, not '$mode'" ;;
	esac
	if pid=$(running_pid); then
		# A caller asking for a mode must not get another one silently.
		if [[ -n ${AMY_TESTDB_TLS:-} && $(tls_mode) != "$mode" ]]; then
			die "already running with TLS $(tls_mode), not $mode (stop it first: AMY_TESTDB_DIR=$STATE $0 stop)"
		fi
		log "already running (pid $pid, port $(port), socket $(sock_path), TLS $(tls_mode))"
		return 0
	fi
	[[ -f $INIT_SQL ]] || die "missing $INIT_SQL"
	find_server_bins

	if [[ -e $STATE ]]; then
		if [[ -f $MARKER ]]; then
			log "removing stale state in $STATE"
			remove_state
		elif [[ -d $STATE && -z $(ls -A -- "$STATE") ]]; then
			:
		else
			die "$STATE exists and was not created by testdb.sh; refusing to use it"
		fi
	fi
	mkdir -p -- "$STATE"
	: >"$MARKER"
	printf '%s\n' "$mode" >"$MODEFILE"
	if [[ $mode == off ]]; then
		[[ -z $pki ]] || log "TLS off: AMY_TESTDB_PKI ignored"
	elif [[ -z $pki ]]; then
		# First, before the slow part: instances copying it wait for it.
		gen_pki
	fi

	sock=$STATE/mysqld.sock
	if ((${#sock} > SOCK_MAX)); then
		sd=$(mktemp -d /tmp/amy-testdb.XXXXXX)
		printf '%s\n' "$sd" >"$SOCKDIRFILE"
		sock=$sd/mysqld.sock
		log "state dir path too long for a unix socket; socket is $sock"
	fi

	log "initialising $DATA"
	mkdir -p -- "$TMPD"
	# TMPDIR, not --tmpdir: mariadb-install-db passes that on word-split.
	if ! TMPDIR=$TMPD "$INSTALL_DB" --no-defaults --user="$(id -un)" --datadir="$DATA" \
		--auth-root-authentication-method=normal --skip-test-db \
		--skip-name-resolve >"$INSTALL_LOG" 2>&1; then
		show_log
		die "mariadb-install-db failed"
	fi
	if [[ $mode != off && -n $pki ]]; then
		copy_pki "$pki"
	fi

	port=$FIRST_PORT
	for attempt in 1 2 3 4 5; do
		port=$(free_port "$port")
		printf '%s\n' "$port" >"$PORTFILE"
		log "starting mariadbd on $BIND_ADDRS port $port, TLS $mode (attempt $attempt)"
		launch "$port" "$sock"
		rc=0
		wait_ready "$sock" || rc=$?
		case $rc in
		0) break ;;
		2)
			log "port $port was taken meanwhile; trying the next one"
			port=$((port + 1))
			;;
		3)
			show_log
			pid=$(<"$SERVER_PID")
			kill -9 "$pid" 2>/dev/null || true
			die "server not ready after ${START_TIMEOUT}s (state left in $STATE; '$0 stop' cleans up)"
			;;
		*)
			show_log
			die "mariadbd exited during startup (state left in $STATE; '$0 stop' cleans up)"
			;;
		esac
	done
	if ((rc != 0)); then
		show_log
		die "could not find a port to listen on"
	fi

	if ! "$CLIENT" --no-defaults --socket="$sock" -uroot <"$INIT_SQL"; then
		die "applying $INIT_SQL failed"
	fi
	check_instance "$port" "$mode"
	log "running: pid $(<"$SERVER_PID"), $BIND_ADDRS port $port, socket $sock, TLS $mode ($((SECONDS - t0))s)"
}

# shutdown_server PID : asks the server to shut down (TERM if it does not
# listen) and waits up to STOP_TIMEOUT for PID to exit; 1 if it is still there.
shutdown_server() {
	local pid=$1 deadline
	if ! timeout "$STOP_TIMEOUT" "$ADMIN" --no-defaults --socket="$(sock_path)" -uroot \
		--connect-timeout=2 shutdown >/dev/null 2>&1; then
		kill -TERM "$pid" 2>/dev/null || true
	fi
	deadline=$((SECONDS + STOP_TIMEOUT))
	while alive "$pid" && ((SECONDS < deadline)); do sleep 0.05; done
	! alive "$pid"
}

cmd_stop() {
	local pid deadline
	if pid=$(running_pid); then
		log "stopping pid $pid"
		if ! shutdown_server "$pid"; then
			log "pid $pid still there after ${STOP_TIMEOUT}s; kill -9"
			kill -9 "$pid" 2>/dev/null || true
			deadline=$((SECONDS + 10))
			while alive "$pid" && ((SECONDS < deadline)); do sleep 0.1; done
			alive "$pid" && die "pid $pid survived kill -9"
		fi
	elif [[ ! -e $STATE ]]; then
		log "not running"
		return 0
	fi
	remove_state
	log "stopped; removed $STATE"
}

cmd_status() {
	local pid
	if pid=$(running_pid); then
		printf 'running pid=%s port=%s socket=%s dir=%s tls=%s\n' "$pid" "$(port)" "$(sock_path)" "$STATE" "$(tls_mode)"
		return 0
	fi
	printf 'stopped\n'
	return 1
}

# The variables that depend on the TLS mode, named after what the instance is
# for, so that a variant's can be added to the main instance's env.
cmd_env_variant() {
	require_running
	case $(tls_mode) in
	on)
		export_var AMY_TEST_TLS_DIR "$TLS"
		export_var AMY_TEST_TLS_DSN "$(dsn_tcp)"
		export_var AMY_TEST_TLS_PORT "$(port)"
		;;
	expired) export_var AMY_TEST_EXPIRED_DSN "$(dsn_tcp)" ;;
	off)
		export_var AMY_TEST_PLAIN_DSN "$(dsn_tcp)"
		export_var AMY_TEST_PLAIN_SSL_DSN "$(dsn_user amy_ssl amy_ssl_pw)"
		;;
	esac
}

cmd_env() {
	require_running
	export_var AMY_TEST_DSN "$(dsn_general)"
	export_var AMY_TEST_SOCKET_DSN "$(dsn_socket)"
	export_var AMY_TEST_ROOT_SOCKET "$(sock_path)"
	export_var AMY_TEST_SPECIAL_DSN "$(dsn_special)"
	export_var AMY_TESTDB_SCRIPT "$REPO/scripts/testdb.sh"
	export_var AMY_TESTDB_DIR "$STATE"
	# env-variant has it for mode on; an expired instance's tests need its CA too.
	[[ $(tls_mode) != expired ]] || export_var AMY_TEST_TLS_DIR "$TLS"
	cmd_env_variant
}

# The replication and Galera topology (issue 13) has a script of its own.
case ${1:-} in
ha-*)
	cmd=${1#ha-}
	shift
	exec bash "$REPO/scripts/testdb-ha.sh" "$cmd" "$@"
	;;
esac

[[ $# -ge 1 && $# -le 2 ]] || usage
# Shuts the server down and starts it again on the same port, socket and
# data, after DOWN seconds without a server (for the fault tests).
cmd_restart() {
	local pid sock port down=${1:-0} rc=0
	pid=$(running_pid) || die "not running"
	sock=$(sock_path)
	port=$(port)
	find_server_bins
	log "restart: stopping pid $pid"
	shutdown_server "$pid" || die "pid $pid did not stop"
	sleep "$down"
	launch "$port" "$sock"
	wait_ready "$sock" || rc=$?
	((rc == 0)) || {
		show_log
		die "restart failed ($rc)"
	}
	log "restarted: pid $(<"$SERVER_PID"), $BIND_ADDRS port $port, TLS $(tls_mode)"
}

case $1 in
start) cmd_start ;;
restart)
	need_bin ADMIN mariadb-admin mysqladmin
	cmd_restart "${2:-0}"
	;;
stop)
	# Shutting down needs mariadb-admin; everything else works without it.
	need_bin ADMIN mariadb-admin mysqladmin
	cmd_stop
	;;
status) cmd_status ;;
dsn)
	require_running
	dsn_general
	;;
dsn-socket)
	require_running
	dsn_socket
	;;
env) cmd_env ;;
env-variant) cmd_env_variant ;;
*) usage ;;
esac
