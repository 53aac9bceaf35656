#!/usr/bin/env bash
# scripts/postgres.sh: make sure a PostgreSQL server is reachable for the tests
# and export TEST_DATABASE_URL, an admin connection URL (the Go tests CREATE and
# DROP their own databases through it).
#
# Usage:
#   source scripts/postgres.sh   # from scripts/test; the caller should run
#                                # `trap storegraph_pg_cleanup EXIT`
#   scripts/postgres.sh          # prints the URL on stdout; a private cluster
#                                # is left running (stop command goes to stderr)
#
# Which server is used, first match wins:
#   1. $TEST_DATABASE_URL, if it is set and `select 1` works through it;
#   2. a server on 127.0.0.1:5432 that accepts user postgres without a password
#      (database "test" is created if missing);
#   3. a private throwaway cluster (trust auth, 127.0.0.1 only) in
#      ${TMPDIR:-/tmp}/storegraph-pg-XXXXXX, on port 54329 or the next free one.
#      PostgreSQL is installed with apt-get if its server binaries are missing.
#
# Environment:
#   STOREGRAPH_PG=private   skip 1 and 2 and always start a private cluster
#   STOREGRAPH_PG_PORT      first port tried for the private cluster (54329)
#
# Works under `set -euo pipefail` and does not change the caller's shell options.
# Everything it defines is prefixed _sgpg_ except storegraph_pg_cleanup.

_sgpg_dir=""    # private cluster directory, set once we own one
_sgpg_bindir="" # directory holding initdb, pg_ctl and postgres

_sgpg_log() { printf 'postgres.sh: %s\n' "$*" >&2; }

# Hide a password in a URL before printing it.
_sgpg_redact() { printf '%s\n' "$1" | sed -E 's#(://[^:/@]*):[^@/]*@#\1:xxxxx@#'; }

# psql that never prompts, never reads ~/.psqlrc or stdin and gives up quickly.
_sgpg_psql() { PGCONNECT_TIMEOUT=5 psql -X -w -q -A -t -v ON_ERROR_STOP=1 "$@" </dev/null; }

_sgpg_have_client() { command -v psql >/dev/null 2>&1 && command -v pg_isready >/dev/null 2>&1; }

_sgpg_apt_install() {
	local sudo=()
	if [[ $EUID -ne 0 ]]; then
		if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
			sudo=(sudo -n)
		else
			_sgpg_log "need root (or passwordless sudo) to apt-get install $*; install it yourself"
			return 1
		fi
	fi
	if ! command -v apt-get >/dev/null 2>&1; then
		_sgpg_log "apt-get not found; install $* yourself"
		return 1
	fi
	_sgpg_log "installing $* with apt-get"
	# Output goes to stderr so that stdout stays the URL when run standalone.
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q </dev/null >&2 || return 1
	"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
		-o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "$@" </dev/null >&2 || return 1
	hash -r
}

_sgpg_ensure_client() {
	_sgpg_have_client && return 0
	_sgpg_apt_install postgresql-client || return 1
	_sgpg_have_client && return 0
	_sgpg_log "psql/pg_isready still missing after installing postgresql-client"
	return 1
}

# Sets _sgpg_bindir to a directory holding initdb, pg_ctl and postgres.
_sgpg_find_bindir() {
	local d cands=() exe
	if command -v pg_config >/dev/null 2>&1; then
		d=$(pg_config --bindir 2>/dev/null) && cands+=("$d")
	fi
	# Newest major version first.
	while IFS= read -r d; do cands+=("$d"); done < <(printf '%s\n' /usr/lib/postgresql/*/bin | sort -rV)
	if exe=$(command -v initdb 2>/dev/null); then
		cands+=("$(dirname "$(readlink -f "$exe")")")
	fi
	for d in "${cands[@]}"; do
		if [[ -n $d && -x $d/initdb && -x $d/pg_ctl && -x $d/postgres ]]; then
			_sgpg_bindir=$d
			return 0
		fi
	done
	return 1
}

# Succeeds when something accepts TCP connections on 127.0.0.1:$1.
_sgpg_port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Uses the server on 127.0.0.1:5432 if user postgres gets in without a password.
_sgpg_try_local() {
	local host=127.0.0.1 port=5432 i rc
	_sgpg_port_busy "$port" || return 1
	_sgpg_ensure_client || return 1
	for i in 1 2 3 4 5 6 7 8 9 10; do
		rc=0
		pg_isready -q -h "$host" -p "$port" -t 3 </dev/null || rc=$?
		[[ $rc -eq 1 ]] || break # 1 = still starting up
		sleep 1
	done
	[[ $rc -eq 0 ]] || return 1
	if ! _sgpg_psql -h "$host" -p "$port" -U postgres -d test -c 'select 1' >/dev/null 2>&1; then
		if ! _sgpg_psql -h "$host" -p "$port" -U postgres -d postgres -c 'select 1' >/dev/null 2>&1; then
			_sgpg_log "a server answers on $host:$port but user postgres cannot log in without a password; not using it"
			return 1
		fi
		# Another run may create it at the same time, so only the re-check counts.
		_sgpg_psql -h "$host" -p "$port" -U postgres -d postgres -c 'CREATE DATABASE test' >/dev/null 2>&1 || true
		if ! _sgpg_psql -h "$host" -p "$port" -U postgres -d test -c 'select 1' >/dev/null 2>&1; then
			_sgpg_log "could not create database test on $host:$port; not using it"
			return 1
		fi
	fi
	export TEST_DATABASE_URL="postgres://postgres@$host:$port/test?sslmode=disable"
	_sgpg_log "using the Postgres server on $host:$port ($TEST_DATABASE_URL)"
}

# Runs a command as the postgres OS user when we are root (the server refuses
# to run as root), from / (root's working directory may be unreadable for
# postgres).
_sgpg_as_pg() {
	if [[ $EUID -eq 0 ]]; then
		(cd / && runuser -u postgres -- "$@")
	else
		"$@"
	fi
}

# Stops and removes the private cluster, if any. Safe to call more than once
# and from an EXIT trap; never fails.
storegraph_pg_cleanup() {
	local dir=$_sgpg_dir
	[[ -n $dir ]] || return 0
	_sgpg_dir=""
	if [[ -f $dir/data/postmaster.pid ]]; then
		if ! _sgpg_as_pg "$_sgpg_bindir/pg_ctl" -D "$dir/data" -m fast -w -t 20 stop >/dev/null 2>&1 &&
			! _sgpg_as_pg "$_sgpg_bindir/pg_ctl" -D "$dir/data" -m immediate -w -t 20 stop >/dev/null 2>&1; then
			# Keep the directory: removing it under a live server would hide it.
			_sgpg_log "could not stop the private cluster in $dir (see $dir/postgres.log)"
			return 0
		fi
	fi
	rm -rf -- "$dir" 2>/dev/null || true
	return 0
}

_sgpg_mkdir() {
	local base d
	for base in "${TMPDIR:-/tmp}" /tmp; do
		d=$(mktemp -d "$base/storegraph-pg-XXXXXX" 2>/dev/null) || continue
		if [[ $EUID -eq 0 ]]; then
			chown postgres: "$d" || { rm -rf -- "$d"; return 1; }
			# postgres must be able to reach it (TMPDIR may be under /root).
			if ! runuser -u postgres -- test -w "$d" 2>/dev/null; then
				rm -rf -- "$d"
				continue
			fi
		fi
		_sgpg_dir=$d
		return 0
	done
	_sgpg_log "could not create a directory for the private cluster"
	return 1
}

_sgpg_start_private() {
	local port first sockdir locale version i ready
	first=${STOREGRAPH_PG_PORT:-54329}

	if [[ $EUID -eq 0 ]] && ! id -u postgres >/dev/null 2>&1; then
		_sgpg_log "creating the postgres OS user to run the private cluster"
		useradd --system --user-group --no-create-home --home-dir /nonexistent \
			--shell /usr/sbin/nologin postgres || return 1
	fi
	_sgpg_mkdir || return 1

	locale=C
	if locale -a 2>/dev/null | grep -qiE '^c\.utf-?8$'; then locale=C.UTF-8; fi
	if ! _sgpg_as_pg "$_sgpg_bindir/initdb" -D "$_sgpg_dir/data" -U postgres --auth=trust \
		-E UTF8 --locale="$locale" --no-sync >"$_sgpg_dir/initdb.log" 2>&1; then
		_sgpg_log "initdb failed:"
		cat "$_sgpg_dir/initdb.log" >&2
		storegraph_pg_cleanup
		return 1
	fi

	sockdir=$_sgpg_dir/sock
	mkdir -p "$sockdir" && chmod 700 "$sockdir"
	[[ $EUID -ne 0 ]] || chown postgres: "$sockdir"
	# A unix socket path must fit in 107 bytes; without one pg_ctl uses TCP.
	if ((${#sockdir} > 80)); then sockdir=""; fi
	# Throwaway cluster: durability off for speed.
	cat >>"$_sgpg_dir/data/postgresql.conf" <<-EOF

		# added by scripts/postgres.sh
		listen_addresses = '127.0.0.1'
		unix_socket_directories = '$sockdir'
		fsync = off
		synchronous_commit = off
		full_page_writes = off
	EOF

	ready=""
	for ((port = first; port < first + 20; port++)); do
		_sgpg_port_busy "$port" && continue
		# Another run may grab the port between the check and the start; then
		# the postmaster exits, pg_ctl fails and we try the next port.
		if _sgpg_as_pg "$_sgpg_bindir/pg_ctl" -D "$_sgpg_dir/data" -l "$_sgpg_dir/postgres.log" \
			-o "-p $port" -w -t 60 start >/dev/null 2>&1; then
			ready=$port
			break
		fi
		[[ -f $_sgpg_dir/data/postmaster.pid ]] && break # running but not ready: give up
	done
	if [[ -z $ready ]]; then
		_sgpg_log "could not start the private cluster; its log:"
		tail -n 30 "$_sgpg_dir/postgres.log" >&2 2>/dev/null || true
		storegraph_pg_cleanup
		return 1
	fi
	port=$ready

	for ((i = 0; i < 30; i++)); do
		pg_isready -q -h 127.0.0.1 -p "$port" -t 2 </dev/null && break
		sleep 1
	done
	if ! _sgpg_psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -c 'CREATE DATABASE test' >/dev/null ||
		! _sgpg_psql -h 127.0.0.1 -p "$port" -U postgres -d test -c 'select 1' >/dev/null; then
		_sgpg_log "the private cluster started but database test is not usable"
		storegraph_pg_cleanup
		return 1
	fi

	version=$("$_sgpg_bindir/postgres" --version 2>/dev/null | awk '{print $3}')
	export TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/test?sslmode=disable"
	_sgpg_log "using a private Postgres ${version:-?} cluster on 127.0.0.1:$port in $_sgpg_dir ($TEST_DATABASE_URL)"
}

_sgpg_main() {
	local mode=${STOREGRAPH_PG:-auto}
	case $mode in
	auto | private) ;;
	*)
		_sgpg_log "STOREGRAPH_PG must be auto or private, not '$mode'"
		return 2
		;;
	esac

	if [[ $mode == auto ]]; then
		if [[ -n ${TEST_DATABASE_URL:-} ]]; then
			_sgpg_ensure_client || return 1
			if _sgpg_psql -d "$TEST_DATABASE_URL" -c 'select 1' >/dev/null 2>&1; then
				export TEST_DATABASE_URL
				_sgpg_log "using TEST_DATABASE_URL ($(_sgpg_redact "$TEST_DATABASE_URL"))"
				return 0
			fi
			_sgpg_log "TEST_DATABASE_URL ($(_sgpg_redact "$TEST_DATABASE_URL")) is not reachable; looking elsewhere"
		fi
		_sgpg_try_local && return 0
	fi

	if ! _sgpg_find_bindir; then
		_sgpg_apt_install postgresql || return 1
		# The Debian package may have created and started a cluster on 5432.
		if [[ $mode == auto ]] && _sgpg_try_local; then return 0; fi
		if ! _sgpg_find_bindir; then
			_sgpg_log "initdb/pg_ctl not found even after installing postgresql"
			return 1
		fi
	fi
	_sgpg_ensure_client || return 1
	_sgpg_start_private
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	# Run standalone: print the URL; leave a private cluster running.
	set -euo pipefail
	_sgpg_main || exit $?
	printf '%s\n' "$TEST_DATABASE_URL"
	if [[ -n $_sgpg_dir ]]; then
		if [[ $EUID -eq 0 ]]; then
			_sgpg_log "stop it with: runuser -u postgres -- $_sgpg_bindir/pg_ctl -D $_sgpg_dir/data stop && rm -rf $_sgpg_dir"
		else
			_sgpg_log "stop it with: $_sgpg_bindir/pg_ctl -D $_sgpg_dir/data stop && rm -rf $_sgpg_dir"
		fi
	fi
else
	_sgpg_main || return $?
fi
