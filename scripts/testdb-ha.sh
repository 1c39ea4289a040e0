#!/usr/bin/env bash
# Throwaway replicated MariaDB servers for amysql's high-availability tests
# (issue 13): a primary with two GTID replicas, and a 3-node Galera cluster.
#
#   scripts/testdb-ha.sh start        start all six (brings up the missing
#                                     ones if the topology exists already)
#   scripts/testdb-ha.sh stop         shut all down, delete the state dir
#   scripts/testdb-ha.sh status       one line per node; exit 0 if all run
#   scripts/testdb-ha.sh env          export lines, for eval (see below)
#   scripts/testdb-ha.sh stop NODE    shut one node down cleanly
#   scripts/testdb-ha.sh kill NODE    SIGKILL one node
#   scripts/testdb-ha.sh start NODE   start it again and wait until it is back
#                                     in the topology (a replica replicating
#                                     and caught up, a Galera node synced)
#   scripts/testdb-ha.sh switchover NODE
#                                     make replication node NODE the primary
#                                     (see cmd_switchover)
# scripts/testdb.sh ha-start, ha-stop, ha-status, ha-env, ha-kill and
# ha-switchover run the same commands (e.g. testdb.sh ha-stop replica1).
#
# NODE is one of primary, replica1, replica2 (the replication nodes, named
# after their roles at start; a switchover moves the roles, not the names)
# and galera1, galera2, galera3.
#
# Every node is its own mariadbd (Debian's mariadb-server; Galera from
# galera-4), run directly, no system service, everything on 127.0.0.1. State
# lives in ${AMY_TESTDB_HA_DIR:-<repo>/.testdb-ha}. The nodes use a block of
# 12 ports from ${AMY_TESTDB_HA_PORT:-23091} (below the ephemeral range, so
# a restarted node finds its port free; if any is taken, start tries
# the next block, AMY_TESTDB_HA_PORT_TRIES blocks in all, default 3):
#   +0 primary, +1 replica1, +2 replica2, +3..+5 galera1..3 (SQL)
#   +6..+8 galera1..3 group communication (gmcast), +9..+11 their IST
# Galera's state transfer uses mysqldump over the SQL ports (nothing to
# install beyond mariadb-client); the rsync method would fail as root (its
# daemon drops to "nobody", who cannot enter the data dir).
#
# All six start from one initialised data dir, copied: one
# mariadb-install-db instead of six, the users and database of
# docker/init.sql already in it, and the Galera nodes all at the same state,
# so nodes 2 and 3 join by IST (a few configuration changes) rather than a
# full state transfer.
#
# env prints (the tests skip without them):
#   AMY_TEST_HA_PRIMARY   127.0.0.1:PORT of the current primary
#   AMY_TEST_HA_REPLICAS  its two replicas, comma-separated
#   AMY_TEST_GALERA       the three Galera nodes, comma-separated
#   AMY_TEST_HA_NODES     "primary=127.0.0.1:PORT replica1=... galera3=...",
#                         the names the node commands take
#   AMY_TEST_HA_DSN       a DSN with {hosts} where the host list goes: the
#                         users, password and database of the main test server
#   AMY_TESTDB_HA_SCRIPT, AMY_TESTDB_HA_DIR  this script and its state dir,
#                         for tests that stop, kill or promote nodes
#
# Environment: AMY_TESTDB_HA_DIR, AMY_TESTDB_HA_PORT, AMY_TESTDB_HA_PORT_TRIES,
# AMY_TESTDB_GALERA_PROVIDER (path of libgalera_smm.so),
# AMY_TESTDB_GALERA_OPTIONS (more wsrep_provider_options, ";"-separated: e.g.
# evs.suspect_timeout=PT2S;evs.inactive_timeout=PT3S; with the default PT5S a
# killed node stalls the others' commits about 5.5 s until it is evicted, and
# start NODE right after kill NODE waits for that too), and
# AMY_TESTDB_START_TIMEOUT / AMY_TESTDB_STOP_TIMEOUT (seconds, default 60/30).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
# shellcheck source=scripts/testdb-lib.sh
. "$REPO/scripts/testdb-lib.sh"

HA=${AMY_TESTDB_HA_DIR:-$REPO/.testdb-ha}
case $HA in
/*) ;;
*) HA=$PWD/$HA ;;
esac
HA=${HA%/}

MARKER=$HA/.amy-testdb-ha # proves we created the dir, so stop may delete it
BASEFILE=$HA/base-port    # the first port of the block in use
ROLES=$HA/roles           # the replication nodes, current primary first
SOCKDIRFILE=$HA/sockdir   # present only when the sockets live under /tmp
TEMPLATE=$HA/template     # the initialised data dir every node copies
INIT_SQL=$REPO/docker/init.sql
NAME=${HA##*/}

FIRST_PORT=${AMY_TESTDB_HA_PORT:-23091}
PORT_TRIES=${AMY_TESTDB_HA_PORT_TRIES:-3}
BLOCK=12
START_TIMEOUT=${AMY_TESTDB_START_TIMEOUT:-60}
STOP_TIMEOUT=${AMY_TESTDB_STOP_TIMEOUT:-30}
SOCK_MAX=100

REPL_NODES=(primary replica1 replica2)
GALERA_NODES=(galera1 galera2 galera3)
NODES=("${REPL_NODES[@]}" "${GALERA_NODES[@]}")
# Users only the topology needs, made in the template next to init.sql's.
REPL_USER=amy_repl
REPL_PW=amy_repl_pw
SST_USER=amy_sst
SST_PW=amy_sst_pw

# Small servers: six of them run next to the three main ones on a shared
# 2-core machine. Debian's defaults would give each a 128 MB buffer pool,
# 128 MB Aria and key caches, a 96 MB redo log and a 12 MB temporary
# tablespace written out in full at every start. Commits write the redo
# log without fsync and there is no doublewrite buffer: these servers must
# survive kill -9 (the OS still has what was written), not a power cut.
SMALL_ARGS=(
	--innodb-buffer-pool-size=8M
	--innodb-log-file-size=4M
	--innodb-temp-data-file-path=ibtmp1:1M:autoextend
	--innodb-flush-log-at-trx-commit=2
	--innodb-doublewrite=0
	--innodb-log-buffer-size=2M
	--innodb-buffer-pool-load-at-startup=OFF
	--innodb-buffer-pool-dump-at-shutdown=OFF
	--key-buffer-size=1M
	--aria-pagecache-buffer-size=2M
	--performance-schema=OFF
	--table-open-cache=256
	--max-connections=500
)

T0=${EPOCHREALTIME//[.,]/}
# Messages carry the time since the script started: where start spends it.
log() {
	local t=$((${EPOCHREALTIME//[.,]/} - T0))
	printf 'testdb-ha[%s] %d.%02ds: %s\n' "$NAME" $((t / 1000000)) $((t / 10000 % 100)) "$*" >&2
}
die() {
	log "$*"
	exit 1
}

usage() {
	cat >&2 <<EOF
usage: $0 start|stop|status|env
       $0 start|stop|kill|switchover NODE
  NODE: ${NODES[*]}
  state dir: $HA (AMY_TESTDB_HA_DIR); ports from $FIRST_PORT (AMY_TESTDB_HA_PORT)
EOF
	exit 2
}


# find_provider : sets PROVIDER to Galera's wsrep provider library.
find_provider() {
	local p
	for p in ${AMY_TESTDB_GALERA_PROVIDER:-} /usr/lib/galera/libgalera_smm.so \
		/usr/lib/galera-4/libgalera_smm.so /usr/lib64/galera-4/libgalera_smm.so \
		/usr/lib/libgalera_smm.so; do
		if [[ -f $p ]]; then
			PROVIDER=$p
			return 0
		fi
	done
	die "no Galera provider (libgalera_smm.so): install galera-4 (scripts/dev.sh deps) or set AMY_TESTDB_GALERA_PROVIDER"
}

# ---------------------------------------------------------------- nodes ----

node_index() {
	local i
	for i in "${!NODES[@]}"; do
		if [[ ${NODES[i]} == "$1" ]]; then
			printf '%s\n' "$i"
			return 0
		fi
	done
	return 1
}

check_node() { node_index "$1" >/dev/null || die "unknown node '$1' (one of: ${NODES[*]})"; }
is_galera() { [[ $1 == galera* ]]; }
galera_no() { printf '%s\n' "${1#galera}"; } # galera2 -> 2

base() {
	[[ -f $BASEFILE ]] || die "no topology in $HA (start it: $0 start)"
	cat -- "$BASEFILE"
}
sql_port() { printf '%s\n' $(($(base) + $(node_index "$1"))); }
gmcast_port() { printf '%s\n' $(($(base) + 5 + $(galera_no "$1"))); }
ist_port() { printf '%s\n' $(($(base) + 8 + $(galera_no "$1"))); }
addr() { printf '127.0.0.1:%s\n' "$(sql_port "$1")"; }

ndir() { printf '%s/%s\n' "$HA" "$1"; }
sockdir() {
	if [[ -f $SOCKDIRFILE ]]; then cat -- "$SOCKDIRFILE"; else printf '%s/sock\n' "$HA"; fi
}
sock() { printf '%s/%s.sock\n' "$(sockdir)" "$1"; }

# roles : the replication nodes, current primary first.
roles() { cat -- "$ROLES"; }
current_primary() {
	local r
	read -r r _ <"$ROLES"
	printf '%s\n' "$r"
}
is_primary() { [[ $(current_primary) == "$1" ]]; }

# running_pid NODE : prints the node's pid if it is running.
running_pid() {
	server_pid "$(ndir "$1")/server.pid"
}

# stray_pids NODE : every live process started with this node's data dir,
# whatever its pid file says (a start killed before it wrote one, a
# --wsrep-recover run).
stray_pids() {
	local want p a
	local -a args
	want="--datadir=$(ndir "$1")/data"
	for p in /proc/[0-9]*; do
		# mapfile, not tr | grep: no fork per process.
		mapfile -d '' args 2>/dev/null <"$p/cmdline" || continue
		for a in "${args[@]}"; do
			if [[ $a == "$want" ]]; then
				printf '%s\n' "${p#/proc/}"
				break
			fi
		done
	done
}

# sql NODE STATEMENTS : runs them as root over the node's socket, prints
# the result without headers (tab-separated).
sql() {
	"$CLIENT" --no-defaults --socket="$(sock "$1")" -uroot -N -B -e "$2"
}

# status_var NODE NAME : the value of one SHOW GLOBAL STATUS variable.
status_var() {
	sql "$1" "SHOW GLOBAL STATUS LIKE '$2'" 2>/dev/null | cut -f2
}

# slave_field NODE FIELD : one field of SHOW SLAVE STATUS (empty if none).
slave_field() {
	# Not sql: -N would drop the field names of the vertical output.
	"$CLIENT" --no-defaults --socket="$(sock "$1")" -uroot -e 'SHOW SLAVE STATUS\G' 2>/dev/null |
		sed -n "s/^ *$2: //p" | head -n 1
}

# launch NODE [ARGS...] : starts the node's mariadbd in the background.
launch() {
	local n=$1 d port
	shift
	d=$(ndir "$n")
	port=$(sql_port "$n")
	local -a args=(
		--no-defaults --user="$(id -un)"
		--datadir="$d/data" --tmpdir="$d/tmp"
		--socket="$(sock "$n")" --port="$port" --bind-address=127.0.0.1
		--skip-ssl --skip-name-resolve
		--pid-file="$d/mysqld.pid" --log-error="$d/error.log"
		--server-id="$port"
		--character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci
		"${SMALL_ARGS[@]}"
	)
	if is_galera "$n"; then
		galera_args "$n"
		args+=("${GALERA_ARGS[@]}")
	else
		# log-slave-updates: any replica can become the primary, its
		# binlog then holding every transaction the others need.
		args+=(--log-bin=mysql-bin --log-slave-updates=ON --binlog-format=ROW
			--gtid-strict-mode=ON --relay-log=relay-bin --relay-log-recovery=ON)
		is_primary "$n" || args+=(--read-only=1)
	fi
	rm -f -- "$d/mysqld.pid"
	local -a runner=()
	if command -v setsid >/dev/null 2>&1; then runner=(setsid); fi
	"${runner[@]}" "$MARIADBD" "${args[@]}" "$@" </dev/null >>"$d/mariadbd.out" 2>&1 &
	printf '%s\n' "$!" >"$d/server.pid"
}

# galera_args NODE : sets GALERA_ARGS, the wsrep options of a Galera node.
galera_args() {
	local n=$1 peers='' g
	for g in "${GALERA_NODES[@]}"; do peers+=${peers:+,}127.0.0.1:$(gmcast_port "$g"); done
	GALERA_ARGS=(
		--wsrep-on=ON --wsrep-provider="$PROVIDER"
		--wsrep-cluster-name="amy_test_$(base)"
		--wsrep-cluster-address="gcomm://$peers"
		--wsrep-node-name="$n"
		--wsrep-node-address="127.0.0.1:$(gmcast_port "$n")"
		--wsrep-node-incoming-address="127.0.0.1:$(sql_port "$n")"
		--wsrep-sst-method=mysqldump --wsrep-sst-auth="$SST_USER:$SST_PW"
		--wsrep-sst-receive-address="127.0.0.1:$(sql_port "$n")"
		--wsrep-slave-threads=1
		--binlog-format=ROW --innodb-autoinc-lock-mode=2 --default-storage-engine=InnoDB
		# A join's membership rounds retransmit every 0.2 s, not every 1 s:
		# each joining node is synced about 1 s sooner.
		--wsrep-provider-options="gmcast.listen_addr=tcp://127.0.0.1:$(gmcast_port "$n");ist.recv_addr=127.0.0.1:$(ist_port "$n");gcache.size=32M;evs.join_retrans_period=PT0.2S${AMY_TESTDB_GALERA_OPTIONS:+;$AMY_TESTDB_GALERA_OPTIONS}"
	)
}

# wait_up NODE : 0 answering, 2 died on a taken port, 1 died otherwise, 3 timeout.
wait_up() {
	local d
	d=$(ndir "$1")
# shellcheck disable=SC2153 # ADMIN: set by need_bin
	wait_answering "$ADMIN" "$(sock "$1")" "$d/server.pid" "$d/mysqld.pid" "$d/error.log" "$START_TIMEOUT"
}

show_log() {
	local f
	for f in "$(ndir "$1")/mariadbd.out" "$(ndir "$1")/error.log"; do
		if [[ -s $f ]]; then
			printf -- '----- %s -----\n' "$f" >&2
			tail -n 40 -- "$f" >&2
		fi
	done
}

# shutdown_node NODE : clean shutdown (TERM if it does not listen), kill -9
# after STOP_TIMEOUT; also ends strays that hold its data dir.
shutdown_node() {
	local n=$1 pid deadline p
	if pid=$(running_pid "$n"); then
		if ! timeout "$STOP_TIMEOUT" "$ADMIN" --no-defaults --socket="$(sock "$n")" -uroot \
			--connect-timeout=2 shutdown >/dev/null 2>&1; then
			kill -TERM "$pid" 2>/dev/null || true
		fi
		deadline=$((SECONDS + STOP_TIMEOUT))
		while alive "$pid" && ((SECONDS < deadline)); do sleep 0.05; done
		if alive "$pid"; then
			log "$n: pid $pid still there after ${STOP_TIMEOUT}s; kill -9"
			kill -9 "$pid" 2>/dev/null || true
		fi
	fi
	for p in $(stray_pids "$n"); do
		log "$n: killing stray pid $p"
		kill -9 "$p" 2>/dev/null || true
	done
	deadline=$((SECONDS + 10))
	while [[ -n $(stray_pids "$n") ]] && ((SECONDS < deadline)); do sleep 0.05; done
	[[ -z $(stray_pids "$n") ]] || die "$n: a mariadbd on $(ndir "$n")/data survived kill -9"
}

# ---------------------------------------------------------------- ports ----

# port_busy PORT : some TCP socket holds the port: a listener, or a
# connection that got it as its ephemeral source port (the ports of all
# the helpers' ranges are inside Linux's ephemeral range). TIME-WAIT does
# not count: mariadbd and Galera bind with SO_REUSEADDR.
port_busy() {
	local p=$1
	if command -v ss >/dev/null 2>&1; then
		ss -Htan "sport = :$p" 2>/dev/null | grep -qv '^TIME-WAIT' && return 0
		return 1
	fi
	(exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null
}

# block_free BASE : every port of the block at BASE is free.
block_free() {
	local b=$1 p
	for ((p = b; p < b + BLOCK; p++)); do
		if port_busy "$p"; then
			log "port $p is taken; block $b..$((b + BLOCK - 1)) not used"
			return 1
		fi
	done
}

# ---------------------------------------------------------------- start ----

# make_template : one initialised data dir with docker/init.sql's users and
# database and the topology's own users, for every node to copy.
make_template() {
	local t0=${EPOCHREALTIME//[.,]/}
	rm -rf -- "$TEMPLATE"
	mkdir -p -- "$TEMPLATE/tmp"
	# TMPDIR, not --tmpdir: mariadb-install-db passes that on word-split.
	if ! TMPDIR=$TEMPLATE/tmp "$INSTALL_DB" --no-defaults --user="$(id -un)" \
		--datadir="$TEMPLATE/data" --auth-root-authentication-method=normal \
		--skip-test-db --skip-name-resolve "${SMALL_ARGS[@]}" \
		>"$TEMPLATE/install.log" 2>&1; then
		tail -n 40 -- "$TEMPLATE/install.log" >&2
		die "mariadb-install-db failed"
	fi
	# The users, applied by a bootstrap run (no server, no network): one
	# statement per line, as --bootstrap reads them. FLUSH PRIVILEGES loads
	# the grant tables, which bootstrap mode starts without.
	{
		printf 'FLUSH PRIVILEGES;\n'
		cat -- "$INIT_SQL"
		printf '\n'
		printf "CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s';\n" "$REPL_USER" "$REPL_PW"
		printf "GRANT REPLICATION SLAVE ON *.* TO '%s'@'127.0.0.1';\n" "$REPL_USER"
		# Galera's mysqldump state transfer: the donor dumps over its socket
		# (localhost) and loads the dump over TCP into the joiner.
		printf "CREATE USER '%s'@'127.0.0.1' IDENTIFIED BY '%s';\n" "$SST_USER" "$SST_PW"
		printf "GRANT ALL PRIVILEGES ON *.* TO '%s'@'127.0.0.1' WITH GRANT OPTION;\n" "$SST_USER"
		printf "CREATE USER '%s'@'localhost' IDENTIFIED BY '%s';\n" "$SST_USER" "$SST_PW"
		printf "GRANT ALL PRIVILEGES ON *.* TO '%s'@'localhost' WITH GRANT OPTION;\n" "$SST_USER"
	} >"$TEMPLATE/init.sql"
	if ! "$MARIADBD" --no-defaults --bootstrap --user="$(id -un)" --datadir="$TEMPLATE/data" \
		--tmpdir="$TEMPLATE/tmp" --log-error="$TEMPLATE/bootstrap.log" "${SMALL_ARGS[@]}" \
		<"$TEMPLATE/init.sql" >>"$TEMPLATE/install.log" 2>&1; then
		tail -n 40 -- "$TEMPLATE/bootstrap.log" >&2
		die "applying $INIT_SQL to the template failed"
	fi
	t0=$((${EPOCHREALTIME//[.,]/} - t0))
	log "template data dir ready ($((t0 / 1000)) ms)"
}

# seed_nodes : fresh copies of the template for every node; the Galera ones
# all at state UUID:0 of a new cluster UUID, galera1 safe to bootstrap.
seed_nodes() {
	local n d uuid p
	local -a pids=()
	uuid=$(cat /proc/sys/kernel/random/uuid 2>/dev/null || uuidgen)
	for n in "${NODES[@]}"; do
		d=$(ndir "$n")
		rm -rf -- "$d"
		mkdir -p -- "$d/tmp"
		# Sparse: the zeros of ibdata1 and the redo log take no disk.
		cp -a --sparse=always -- "$TEMPLATE/data" "$d/data" &
		pids+=($!)
	done
	for p in "${pids[@]}"; do wait "$p" || die "copying the template data dir failed"; done
	for n in "${GALERA_NODES[@]}"; do
		write_grastate "$(ndir "$n")/data" "$uuid" 0 "$([[ $n == galera1 ]] && echo 1 || echo 0)"
	done
}

write_grastate() {
	printf '# GALERA saved state\nversion: 2.1\nuuid:    %s\nseqno:   %s\nsafe_to_bootstrap: %s\n' \
		"$2" "$3" "$4" >"$1/grastate.dat"
}

# start_nodes NODE... : launches them together, waits for each to answer.
# Returns 2 if one died on a taken port.
start_nodes() {
	local n rc=0 r
	for n in "$@"; do
		if [[ $n == galera1 ]]; then launch "$n" --wsrep-new-cluster; else launch "$n"; fi
	done
	for n in "$@"; do
		r=0
		wait_up "$n" || r=$?
		case $r in
		0) ;;
		2)
			log "$n: its port was taken"
			rc=2
			;;
		*)
			show_log "$n"
			die "$n: mariadbd $( ((r == 3)) && echo "not up after ${START_TIMEOUT}s" || echo "exited during startup")"
			;;
		esac
	done
	return "$rc"
}

# wait_synced NODE SIZE : until the Galera node is Synced, wsrep_ready and
# in a cluster of SIZE.
wait_synced() {
	local n=$1 size=$2 deadline=$((SECONDS + START_TIMEOUT)) st rd cs pid
	pid=$(<"$(ndir "$n")/server.pid")
	while :; do
		st=$(status_var "$n" wsrep_local_state_comment || true)
		rd=$(status_var "$n" wsrep_ready || true)
		cs=$(status_var "$n" wsrep_cluster_size || true)
		[[ $st == Synced && $rd == ON && $cs == "$size" ]] && return 0
		if ! alive "$pid"; then
			show_log "$n"
			die "$n: mariadbd exited while joining the cluster"
		fi
		if ((SECONDS >= deadline)); then
			show_log "$n"
			die "$n: not synced in a cluster of $size after ${START_TIMEOUT}s (state '$st', ready '$rd', size '$cs')"
		fi
		sleep 0.1
	done
}

# join_galera NODE... : starts each after the one before is synced (two
# joining at once make the group re-form its membership: slower).
# Returns 2 if one died on a taken port.
join_galera() {
	local n size=1 r
	for n in "$@"; do
		size=$((size + 1))
		launch "$n"
		r=0
		wait_up "$n" || r=$?
		if ((r == 2)); then
			log "$n: its port was taken"
			return 2
		fi
		((r == 0)) || {
			show_log "$n"
			die "$n: mariadbd did not come up ($r)"
		}
		wait_synced "$n" "$size"
		log "$n: synced, cluster of $size"
	done
}

# point_replica NODE GTIDMODE : makes NODE a read-only replica of the
# current primary. slave_pos at the first start (nothing replicated yet);
# current_pos when an old primary, whose own transactions are only in its
# binlog, becomes a replica.
point_replica() {
	local n=$1 mode=$2 p
	p=$(current_primary)
	sql "$n" "SET GLOBAL read_only=1; STOP SLAVE;
		CHANGE MASTER TO MASTER_HOST='127.0.0.1', MASTER_PORT=$(sql_port "$p"),
			MASTER_USER='$REPL_USER', MASTER_PASSWORD='$REPL_PW',
			MASTER_CONNECT_RETRY=1, MASTER_USE_GTID=$mode;
		START SLAVE;" 2>/dev/null ||
		die "$n: cannot make it a replica of $p"
}

# wait_caught_up : a write on the current primary, seen on every running
# replica; both replication threads running on each.
wait_caught_up() {
	local p r pos n want got io sq
	p=$(current_primary)
	running_pid "$p" >/dev/null || return 0
	pos=$(sql "$p" "CREATE DATABASE IF NOT EXISTS amy_ha;
		CREATE TABLE IF NOT EXISTS amy_ha.beat (id INT PRIMARY KEY, n BIGINT) ENGINE=InnoDB;
		INSERT INTO amy_ha.beat VALUES (1, 1) ON DUPLICATE KEY UPDATE n = n + 1;
		SELECT @@gtid_binlog_pos") || die "$p: the write to amy_ha.beat failed"
	want=$(sql "$p" 'SELECT n FROM amy_ha.beat WHERE id = 1')
	for r in $(roles); do
		[[ $r != "$p" ]] || continue
		running_pid "$r" >/dev/null || continue
		n=$(sql "$r" "SELECT MASTER_GTID_WAIT('$pos', $START_TIMEOUT)") || n=error
		if [[ $n != 0 ]]; then
			sql "$r" 'SHOW SLAVE STATUS\G' >&2 || true
			die "$r: did not reach the primary's GTID $pos in ${START_TIMEOUT}s ($n)"
		fi
		got=$(sql "$r" 'SELECT n FROM amy_ha.beat WHERE id = 1')
		[[ $got == "$want" ]] || die "$r: amy_ha.beat is $got, the primary's is $want"
		io=$(slave_field "$r" Slave_IO_Running)
		sq=$(slave_field "$r" Slave_SQL_Running)
		[[ $io == Yes && $sq == Yes ]] || die "$r: Slave_IO_Running=$io Slave_SQL_Running=$sq"
	done
}

# start_fresh : a new topology on the first free block of ports.
start_fresh() {
	local b=$FIRST_PORT try rc pid
	mkdir -p -- "$HA"
	: >"$MARKER"
	local sd=$HA/sock
	if ((${#sd} + 14 > SOCK_MAX)); then
		sd=$(mktemp -d /tmp/amy-testdb-ha.XXXXXX)
		printf '%s\n' "$sd" >"$SOCKDIRFILE"
		log "state dir path too long for unix sockets; they are in $sd"
	fi
	mkdir -p -- "$sd"
	make_template
	for ((try = 1; try <= PORT_TRIES; try++, b += BLOCK)); do
		block_free "$b" || continue
		printf '%s\n' "$b" >"$BASEFILE"
		printf '%s\n' "${REPL_NODES[*]}" >"$ROLES"
		seed_nodes
		log "starting on ports $b..$((b + BLOCK - 1)) (attempt $try)"
		rc=0
		start_nodes "${REPL_NODES[@]}" galera1 || rc=$?
		if ((rc == 0)); then
			log "primary, replicas and galera1 up"
			# Replication is set up while Galera nodes 2 and 3 join.
			(
				point_replica replica1 slave_pos
				point_replica replica2 slave_pos
				wait_caught_up
				log "replicas replicating and caught up"
			) &
			pid=$!
			join_galera galera2 galera3 || rc=$?
			if ((rc == 0)); then
				wait "$pid" || die "replication did not start (messages above)"
				return 0
			fi
			wait "$pid" || true
		fi
		log "a port of block $b was taken meanwhile; trying the next block"
		stop_all
	done
	die "no free block of $BLOCK ports in $PORT_TRIES tries from $FIRST_PORT"
}

# healthy : every node runs, replication and the cluster are whole.
healthy() {
	local n p
	for n in "${NODES[@]}"; do running_pid "$n" >/dev/null || return 1; done
	p=$(current_primary)
	for n in $(roles); do
		[[ $n != "$p" ]] || continue
		[[ $(slave_field "$n" Slave_IO_Running) == Yes && $(slave_field "$n" Slave_SQL_Running) == Yes ]] || return 1
	done
	for n in "${GALERA_NODES[@]}"; do
		[[ $(status_var "$n" wsrep_cluster_size) == 3 && $(status_var "$n" wsrep_ready) == ON ]] || return 1
	done
}

# check_logins : the test user logs in over TCP on every node.
check_logins() {
	local n
	for n in "${NODES[@]}"; do
		"$CLIENT" --no-defaults -uamy -pamy_pw -h127.0.0.1 -P"$(sql_port "$n")" amysql_test \
			-e 'SELECT 1' >/dev/null || die "$n: user amy cannot log in over TCP on $(addr "$n")"
	done
}

cmd_start() {
	local t0=${EPOCHREALTIME//[.,]/} n
	[[ -f $INIT_SQL ]] || die "missing $INIT_SQL"
	find_server_bins
	find_provider
	if [[ -f $BASEFILE && -f $ROLES && -f $MARKER ]]; then
		if healthy; then
			log "already running (ports $(base)..$(($(base) + BLOCK - 1)))"
			return 0
		fi
		local missing=()
		for n in "${NODES[@]}"; do running_pid "$n" >/dev/null || missing+=("$n"); done
		if ((${#missing[@]} > 0 && ${#missing[@]} < ${#NODES[@]})); then
			# E.g. a test stopped a node and failed before starting it again.
			log "topology exists; starting the nodes not running: ${missing[*]}"
			for n in "${missing[@]}"; do (start_node "$n") || break; done
			if healthy; then
				log "running again (ports $(base)..$(($(base) + BLOCK - 1)))"
				return 0
			fi
		fi
		# Half set up (a start killed midway), or broken: start afresh.
		cmd_status >&2 || true
		log "the topology in $HA is not whole; starting afresh"
	fi
	if [[ -e $HA ]]; then
		[[ -f $MARKER ]] || die "$HA exists and was not created by testdb-ha.sh; refusing to use it"
		log "removing stale state in $HA"
		stop_all
		remove_state
	fi
	start_fresh
	check_logins
	rm -rf -- "$TEMPLATE" # 20 MB; every node has its copy
	t0=$((${EPOCHREALTIME//[.,]/} - t0))
	log "running: primary $(addr primary), replicas $(addr replica1) $(addr replica2)," \
		"galera $(addr galera1) $(addr galera2) $(addr galera3)" \
		"($((t0 / 1000000)).$(printf '%02d' $((t0 / 10000 % 100))) s)"
}

# ----------------------------------------------------------- one node ----

# recovered_position NODE : after a crash (grastate seqno -1), the
# position InnoDB has, as mysqld_safe's --wsrep-recover run finds it; with
# it the node rejoins by IST instead of a full state transfer.
recovered_position() {
	local n=$1 d pos
	d=$(ndir "$n")
	galera_args "$n"
	"$MARIADBD" --no-defaults --user="$(id -un)" --datadir="$d/data" --tmpdir="$d/tmp" \
		--skip-networking --socket="$d/recover.sock" --log-error="$d/recover.log" \
		"${SMALL_ARGS[@]}" "${GALERA_ARGS[@]}" --wsrep-recover >/dev/null 2>&1 || true
	pos=$(sed -n 's/.*WSREP: Recovered position: *\([^ ]*\).*/\1/p' "$d/recover.log" 2>/dev/null | tail -n 1)
	printf '%s\n' "$pos"
}

start_node() {
	local n=$1 r g others=0 pos
	local -a extra=()
	if running_pid "$n" >/dev/null; then
		log "$n: already running"
		return 0
	fi
	shutdown_node "$n" # strays of a killed start
	# wait_up reads the log for "Address already in use": this run's only.
	cat -- "$(ndir "$n")/error.log" >>"$(ndir "$n")/error.log.old" 2>/dev/null || true
	: >"$(ndir "$n")/error.log"
	if is_galera "$n"; then
		for g in "${GALERA_NODES[@]}"; do
			[[ $g == "$n" ]] || ! running_pid "$g" >/dev/null || others=$((others + 1))
		done
		if grep -q '^seqno: *-1' "$(ndir "$n")/data/grastate.dat" 2>/dev/null; then
			pos=$(recovered_position "$n")
			if [[ -n $pos && $pos != 00000000-0000-0000-0000-000000000000:-1 ]]; then
				log "$n: recovered position $pos"
				extra+=(--wsrep-start-position="$pos")
			fi
		fi
		if ((others == 0)); then
			log "$n: no other Galera node runs; bootstrapping a new cluster from it"
			sed -i 's/^safe_to_bootstrap:.*/safe_to_bootstrap: 1/' "$(ndir "$n")/data/grastate.dat"
			extra+=(--wsrep-new-cluster)
		fi
	fi
	launch "$n" "${extra[@]}"
	r=0
	wait_up "$n" || r=$?
	((r == 0)) || {
		show_log "$n"
		die "$n: did not start ($( ((r == 2)) && echo "its port $(sql_port "$n") is taken" || echo "exit $r"))"
	}
	if is_galera "$n"; then
		wait_synced "$n" $((others + 1))
	elif ! is_primary "$n"; then
		point_replica "$n" current_pos
		wait_caught_up
	else
		wait_caught_up # its replicas reconnect by themselves (retry every 1 s)
	fi
	log "$n: running on $(addr "$n")"
}

cmd_stop_node() {
	check_node "$1"
	find_server_bins
	shutdown_node "$1"
	log "$1: stopped"
}

cmd_kill_node() {
	local n=$1 pid deadline
	check_node "$n"
	pid=$(running_pid "$n") || die "$n: not running"
	kill -9 "$pid"
	deadline=$((SECONDS + 10))
	while alive "$pid" && ((SECONDS < deadline)); do sleep 0.02; done
	alive "$pid" && die "$n: pid $pid survived kill -9"
	log "$n: killed (pid $pid)"
}

cmd_start_node() {
	check_node "$1"
	find_server_bins
	find_provider
	start_node "$1"
}

# switchover NEW : NEW (a running replica) becomes the primary. Planned,
# with the old primary running: it is set read_only=1 first (and keeps
# running), NEW waits until it has applied everything the old one wrote,
# then stops replicating and is set read_only=0; the others, the old primary
# included, replicate from NEW. With the old primary down (killed): NEW
# applies what it had received, then the same; the old primary becomes
# NEW's replica when start-node starts it again.
cmd_switchover() {
	local new=$1 old pos r n deadline
	check_node "$new"
	is_galera "$new" && die "$new is a Galera node; switchover is for ${REPL_NODES[*]}"
	find_server_bins
	old=$(current_primary)
	[[ $new != "$old" ]] || {
		log "$new is already the primary"
		return 0
	}
	running_pid "$new" >/dev/null || die "$new is not running"
	if running_pid "$old" >/dev/null; then
		pos=$(sql "$old" 'SET GLOBAL read_only=1; SELECT @@gtid_binlog_pos') ||
			die "$old: cannot set read_only"
		log "$old: read_only=1 at GTID $pos"
		n=$(sql "$new" "SELECT MASTER_GTID_WAIT('$pos', $START_TIMEOUT)") || n=error
		[[ $n == 0 ]] || die "$new: did not reach GTID $pos in ${START_TIMEOUT}s ($n)"
	else
		log "$old is down: failover to what $new has received"
		sql "$new" 'STOP SLAVE IO_THREAD' || die "$new: STOP SLAVE IO_THREAD failed"
		deadline=$((SECONDS + START_TIMEOUT))
		until [[ $(slave_field "$new" Slave_SQL_Running_State) == *'read all relay log'* ]]; do
			((SECONDS < deadline)) || die "$new: relay log not applied after ${START_TIMEOUT}s"
			sleep 0.05
		done
	fi
	sql "$new" 'STOP SLAVE; RESET SLAVE ALL; SET GLOBAL read_only=0' || die "$new: promotion failed"
	{
		printf '%s' "$new"
		for r in "${REPL_NODES[@]}"; do [[ $r == "$new" ]] || printf ' %s' "$r"; done
		printf '\n'
	} >"$ROLES"
	log "$new: primary (read_only=0) on $(addr "$new")"
	for r in "${REPL_NODES[@]}"; do
		[[ $r != "$new" ]] || continue
		running_pid "$r" >/dev/null || continue
		point_replica "$r" current_pos
	done
	wait_caught_up
	log "switchover done: primary $new, replicas $(roles | cut -d' ' -f2-)"
}

# ---------------------------------------------------------------- stop ----

# stop_all : kill -9 for every node: their state is deleted next, and six
# clean shutdowns take about 10 s (Galera nodes leaving one by one).
stop_all() {
	local n p pids=()
	for n in "${NODES[@]}"; do
		for p in $(running_pid "$n" || true) $(stray_pids "$n"); do
			kill -9 "$p" 2>/dev/null || true
			pids+=("$p")
		done
	done
	for p in "${pids[@]}"; do
		local deadline=$((SECONDS + 10))
		while alive "$p" && ((SECONDS < deadline)); do sleep 0.02; done
		alive "$p" && die "pid $p survived kill -9"
	done
	return 0
}

remove_state() {
	local sd
	[[ -e $HA ]] || return 0
	[[ -f $MARKER ]] || die "$HA was not created by testdb-ha.sh; not deleting it"
	if [[ -f $SOCKDIRFILE ]]; then
		sd=$(<"$SOCKDIRFILE")
		case $sd in
		/tmp/amy-testdb-ha.*) rm -rf -- "$sd" ;;
		esac
	fi
	rm -rf -- "$HA"
}

cmd_stop() {
	if [[ ! -e $HA ]]; then
		log "not running"
		return 0
	fi
	[[ -f $MARKER ]] || die "$HA was not created by testdb-ha.sh; not touching it"
	stop_all
	remove_state
	log "stopped; removed $HA"
}

# -------------------------------------------------------- status / env ----

cmd_status() {
	local n pid all=0 role
	[[ -f $BASEFILE && -f $ROLES ]] || {
		printf 'stopped\n'
		return 1
	}
	need_bin CLIENT mariadb mysql
	for n in "${NODES[@]}"; do
		if is_galera "$n"; then
			role=galera
		elif is_primary "$n"; then role=primary; else role=replica; fi
		if pid=$(running_pid "$n"); then
			printf '%-9s running pid=%s addr=%s role=%s' "$n" "$pid" "$(addr "$n")" "$role"
			if is_galera "$n"; then
				printf ' cluster_size=%s ready=%s' "$(status_var "$n" wsrep_cluster_size)" "$(status_var "$n" wsrep_ready)"
			elif [[ $role == replica ]]; then
				printf ' io=%s sql=%s' "$(slave_field "$n" Slave_IO_Running)" "$(slave_field "$n" Slave_SQL_Running)"
			fi
			printf '\n'
		else
			printf '%-9s stopped addr=%s role=%s\n' "$n" "$(addr "$n")" "$role"
			all=1
		fi
	done
	return "$all"
}

cmd_env() {
	local r p reps='' gal='' nodes='' n
	base >/dev/null
	p=$(current_primary)
	for r in $(roles); do [[ $r == "$p" ]] || reps+=${reps:+,}$(addr "$r"); done
	for n in "${GALERA_NODES[@]}"; do gal+=${gal:+,}$(addr "$n"); done
	for n in "${NODES[@]}"; do nodes+=${nodes:+ }$n=$(addr "$n"); done
	export_var AMY_TEST_HA_PRIMARY "$(addr "$p")"
	export_var AMY_TEST_HA_REPLICAS "$reps"
	export_var AMY_TEST_GALERA "$gal"
	export_var AMY_TEST_HA_NODES "$nodes"
	export_var AMY_TEST_HA_DSN 'mysql://amy:amy_pw@{hosts}/amysql_test?ssl_mode=disabled'
	export_var AMY_TESTDB_HA_SCRIPT "$REPO/scripts/testdb-ha.sh"
	export_var AMY_TESTDB_HA_DIR "$HA"
	# root on NODE: mysql://root@localhost/?socket=$AMY_TEST_HA_SOCKDIR/NODE.sock
	export_var AMY_TEST_HA_SOCKDIR "$(sockdir)"
}

case ${1:-}:$# in
start:1) cmd_start ;;
start:2) cmd_start_node "$2" ;;
stop:1) cmd_stop ;;
stop:2) cmd_stop_node "$2" ;;
kill:2) cmd_kill_node "$2" ;;
switchover:2) cmd_switchover "$2" ;;
status:1) cmd_status ;;
env:1) cmd_env ;;
*) usage ;;
esac
