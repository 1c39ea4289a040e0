#!/usr/bin/env bash
# Throwaway MariaDB server for amysql's integration tests.
#
#   scripts/testdb.sh start       start it (no-op if already running)
#   scripts/testdb.sh stop        shut it down and delete its state dir
#   scripts/testdb.sh status      print "running ..." (exit 0) or "stopped" (exit 1)
#   scripts/testdb.sh dsn         mysql://amy:amy_pw@127.0.0.1:PORT/amysql_test
#   scripts/testdb.sh dsn-socket  mysql://amy:amy_pw@localhost/amysql_test?socket=SOCK
#   scripts/testdb.sh env         export lines, for: eval "$(scripts/testdb.sh env)"
#   scripts/testdb.sh restart [S] shut the server down, wait S seconds, start it again
#
# It runs Debian's mariadbd (package mariadb-server) directly, no system service:
# data, pid file, error log and unix socket live in ${AMY_TESTDB_DIR:-<repo>/.testdb}.
# TCP listens on 127.0.0.1 only, on the first free port from 33061 upward
# (or $AMY_TESTDB_PORT). The users and database come from docker/init.sql.
# Messages go to stderr; stdout carries only what status/dsn/env print.
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
INIT_SQL=$REPO/docker/init.sql

START_TIMEOUT=${AMY_TESTDB_START_TIMEOUT:-30}
STOP_TIMEOUT=${AMY_TESTDB_STOP_TIMEOUT:-30}
FIRST_PORT=${AMY_TESTDB_PORT:-33061}
PORT_TRIES=100
SOCK_MAX=100 # sun_path holds 108 bytes; stay well clear

log() { printf 'testdb: %s\n' "$*" >&2; }
die() {
	log "$*"
	exit 1
}

usage() {
	cat >&2 <<EOF
usage: $0 start|stop|status|dsn|dsn-socket|env
  state dir: $STATE (set AMY_TESTDB_DIR to change)
EOF
	exit 2
}

# find_bin NAME... : full path of the first NAME found in PATH or the usual dirs.
find_bin() {
	local n d
	for n in "$@"; do
		if command -v "$n" >/dev/null 2>&1; then
			command -v "$n"
			return 0
		fi
		for d in /usr/sbin /usr/bin /usr/local/sbin /usr/local/bin /usr/local/mysql/bin; do
			if [[ -x $d/$n ]]; then
				printf '%s\n' "$d/$n"
				return 0
			fi
		done
	done
	return 1
}

need_bin() {
	local var=$1 p
	shift
	p=$(find_bin "$@") || die "cannot find $* (install mariadb-server and mariadb-client: scripts/dev.sh deps)"
	printf -v "$var" '%s' "$p"
}

find_server_bins() {
	need_bin INSTALL_DB mariadb-install-db mysql_install_db
	need_bin MARIADBD mariadbd mysqld
	need_bin ADMIN mariadb-admin mysqladmin
	need_bin CLIENT mariadb mysql
}

# alive PID : the process exists and is not a zombie.
alive() {
	local pid=$1 st
	[[ $pid =~ ^[0-9]+$ ]] || return 1
	kill -0 "$pid" 2>/dev/null || return 1
	if [[ -r /proc/$pid/stat ]]; then
		st=$(<"/proc/$pid/stat") || return 1
		st=${st##*) }
		[[ ${st%% *} != Z ]] || return 1
	fi
	return 0
}

# running_pid : prints the server's pid if our server is running.
running_pid() {
	local pid comm
	[[ -f $SERVER_PID ]] || return 1
	pid=$(<"$SERVER_PID")
	alive "$pid" || return 1
	# Guard against the pid having been reused by something else.
	if [[ -r /proc/$pid/comm ]]; then
		comm=$(<"/proc/$pid/comm")
		case $comm in
		mariadbd | mysqld) ;;
		*) return 1 ;;
		esac
	fi
	printf '%s\n' "$pid"
}

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

shquote() {
	local s=$1
	printf "'%s'" "${s//\'/\'\\\'\'}"
}

dsn_tcp() { printf 'mysql://amy:amy_pw@127.0.0.1:%s/amysql_test\n' "$(port)"; }
dsn_special() {
	printf 'mysql://amy_special:%s@127.0.0.1:%s/amysql_test\n' "$(urlencode 'p@ss:w/rd%?&')" "$(port)"
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
	: >"$ERRLOG"
	rm -f -- "$MYSQLD_PID"
	# setsid + closed stdio: the server outlives this script, takes no terminal
	# signals, and holds no pipe open for a caller doing "$(testdb.sh start)".
	local -a runner=()
	if command -v setsid >/dev/null 2>&1; then runner=(setsid); fi
	"${runner[@]}" "$MARIADBD" --no-defaults \
		--user="$(id -un)" \
		--datadir="$DATA" \
		--socket="$sock" \
		--port="$port" \
		--bind-address=127.0.0.1 \
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
wait_ready() {
	local sock=$1 pid deadline=$((SECONDS + START_TIMEOUT))
	pid=$(<"$SERVER_PID")
	while :; do
		if "$ADMIN" --no-defaults --socket="$sock" -uroot --connect-timeout=2 ping >/dev/null 2>&1; then
			# Prefer the server's own idea of its pid, should setsid have forked.
			if [[ -s $MYSQLD_PID ]] && alive "$(<"$MYSQLD_PID")"; then
				cp -- "$MYSQLD_PID" "$SERVER_PID"
			fi
			return 0
		fi
		if ! alive "$pid" && ! { [[ -s $MYSQLD_PID ]] && alive "$(<"$MYSQLD_PID")"; }; then
			if grep -qiE 'Address already in use|Bind on TCP/IP port' "$ERRLOG" 2>/dev/null; then
				return 2
			fi
			return 1
		fi
		((SECONDS < deadline)) || return 3
		sleep 0.1
	done
}

show_log() {
	local f
	for f in "$INSTALL_LOG" "$STATE/mariadbd.out" "$ERRLOG"; do
		if [[ -s $f ]]; then
			printf -- '----- %s -----\n' "$f" >&2
			tail -n 60 -- "$f" >&2
		fi
	done
}

cmd_start() {
	local pid sock sd port rc attempt t0=$SECONDS
	if pid=$(running_pid); then
		log "already running (pid $pid, port $(port), socket $(sock_path))"
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

	sock=$STATE/mysqld.sock
	if ((${#sock} > SOCK_MAX)); then
		sd=$(mktemp -d /tmp/amy-testdb.XXXXXX)
		printf '%s\n' "$sd" >"$SOCKDIRFILE"
		sock=$sd/mysqld.sock
		log "state dir path too long for a unix socket; socket is $sock"
	fi

	log "initialising $DATA"
	if ! "$INSTALL_DB" --no-defaults --user="$(id -un)" --datadir="$DATA" \
		--auth-root-authentication-method=normal --skip-test-db \
		--skip-name-resolve >"$INSTALL_LOG" 2>&1; then
		show_log
		die "mariadb-install-db failed"
	fi

	port=$FIRST_PORT
	for attempt in 1 2 3 4 5; do
		port=$(free_port "$port")
		printf '%s\n' "$port" >"$PORTFILE"
		log "starting mariadbd on 127.0.0.1:$port (attempt $attempt)"
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
	if ! "$CLIENT" --no-defaults -uamy -pamy_pw -h127.0.0.1 -P"$port" amysql_test \
		-e 'SELECT 1' >/dev/null; then
		die "user amy cannot log in over TCP"
	fi
	log "running: pid $(<"$SERVER_PID"), 127.0.0.1:$port, socket $sock ($((SECONDS - t0))s)"
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
		printf 'running pid=%s port=%s socket=%s dir=%s\n' "$pid" "$(port)" "$(sock_path)" "$STATE"
		return 0
	fi
	printf 'stopped\n'
	return 1
}

cmd_env() {
	require_running
	printf 'export AMY_TEST_DSN=%s\n' "$(shquote "$(dsn_tcp)")"
	printf 'export AMY_TEST_SOCKET_DSN=%s\n' "$(shquote "$(dsn_socket)")"
	printf 'export AMY_TEST_ROOT_SOCKET=%s\n' "$(shquote "$(sock_path)")"
	printf 'export AMY_TEST_SPECIAL_DSN=%s\n' "$(shquote "$(dsn_special)")"
	printf 'export AMY_TESTDB_SCRIPT=%s\n' "$(shquote "$REPO/scripts/testdb.sh")"
	printf 'export AMY_TESTDB_DIR=%s\n' "$(shquote "$STATE")"
}

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
	log "restarted: pid $(<"$SERVER_PID"), 127.0.0.1:$port"
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
	dsn_tcp
	;;
dsn-socket)
	require_running
	dsn_socket
	;;
env) cmd_env ;;
*) usage ;;
esac
