# shellcheck shell=bash
# Helpers shared by scripts/testdb.sh and scripts/testdb-ha.sh (sourced, not
# run). The sourcing script defines log and die, whose prefixes differ.

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

# shquote S : S in single quotes, for a shell to read back.
shquote() {
	local s=$1
	printf "'%s'" "${s//\'/\'\\\'\'}"
}

# export_var NAME VALUE : an export line for eval.
export_var() { printf 'export %s=%s\n' "$1" "$(shquote "$2")"; }

# wait_answering ADMIN SOCK SERVER_PID MYSQLD_PID ERRLOG TIMEOUT_S : waits
# for a server started by us (its pid in the file SERVER_PID) to answer a
# ping on SOCK. 0 answering, 2 died on a taken port, 1 died otherwise, 3
# timed out. The server's own idea of its pid (MYSQLD_PID) replaces ours
# should it have forked.
wait_answering() {
	local admin=$1 sock=$2 spid=$3 mpid=$4 errlog=$5 pid deadline=$((SECONDS + $6))
	pid=$(<"$spid")
	while :; do
		if "$admin" --no-defaults --socket="$sock" -uroot --connect-timeout=2 ping >/dev/null 2>&1; then
			if [[ -s $mpid ]] && alive "$(<"$mpid")"; then
				cp -- "$mpid" "$spid"
			fi
			return 0
		fi
		if ! alive "$pid" && ! { [[ -s $mpid ]] && alive "$(<"$mpid")"; }; then
			if grep -qiE 'Address already in use|Bind on TCP/IP port' "$errlog" 2>/dev/null; then
				return 2
			fi
			return 1
		fi
		((SECONDS < deadline)) || return 3
		sleep 0.1
	done
}

# server_pid FILE : the pid in FILE if it is a live mariadbd (or mysqld): a
# pid reused by something else does not count. Fails otherwise.
server_pid() {
	local pid comm
	[[ -f $1 ]] || return 1
	pid=$(<"$1")
	alive "$pid" || return 1
	if [[ -r /proc/$pid/comm ]]; then
		comm=$(<"/proc/$pid/comm")
		case $comm in
		mariadbd | mysqld) ;;
		*) return 1 ;;
		esac
	fi
	printf '%s\n' "$pid"
}

# find_server_bins : INSTALL_DB, MARIADBD, ADMIN and CLIENT, or die.
find_server_bins() {
	need_bin INSTALL_DB mariadb-install-db mysql_install_db
	need_bin MARIADBD mariadbd mysqld
	need_bin ADMIN mariadb-admin mysqladmin
	need_bin CLIENT mariadb mysql
}
