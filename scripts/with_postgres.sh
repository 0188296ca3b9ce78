#!/usr/bin/env bash
# Run a command against a throwaway PostgreSQL server: `scripts/with_postgres.sh CMD [ARGS...]`.
#
# Installs PostgreSQL from Debian's packages when its server binaries are missing, starts a private
# cluster in a temporary directory on 127.0.0.1 and a free port, creates a database, exports its URL as
# INVENTAG_TEST_POSTGRES_URL, runs CMD, and always stops the server and deletes the cluster afterwards.
# Every failure to get a server is fatal and says why: a test target that silently skipped would pass.
set -euo pipefail

DB_NAME=inventag
DB_USER=inventag

die() {
    echo "with_postgres: $*" >&2
    exit 1
}

[ "$#" -gt 0 ] || die "usage: $0 CMD [ARGS...]"

find_bindir() {
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ] && [ -x "$dir/postgres" ]; then
            echo "$dir"
            return 0
        fi
    done
    return 1
}

as_root() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        sudo -n "$@"
    else
        die "PostgreSQL is not installed and installing it needs root: run as root, give this user" \
            "password-less sudo, or install Debian's 'postgresql' package first"
    fi
}

install_postgres() {
    command -v apt-get >/dev/null 2>&1 || die "PostgreSQL is not installed and apt-get is not available;" \
        "install PostgreSQL's server so that /usr/lib/postgresql/<version>/bin/initdb exists"
    echo "with_postgres: installing PostgreSQL from Debian's packages" >&2
    local apt=(env DEBIAN_FRONTEND=noninteractive apt-get -y -q -o Dpkg::Use-Pty=0)
    # Try with the package lists the machine already has; refresh them only if that fails (fresh image).
    if ! as_root "${apt[@]}" install --no-install-recommends postgresql >/dev/null; then
        as_root "${apt[@]}" update >/dev/null || die "apt-get update failed: are Debian's package mirrors reachable?"
        as_root "${apt[@]}" install --no-install-recommends postgresql >/dev/null \
            || die "apt-get install postgresql failed"
    fi
}

BINDIR=$(find_bindir) || { install_postgres; BINDIR=$(find_bindir) || die "no initdb under /usr/lib/postgresql/*/bin after installing"; }

# PostgreSQL refuses to run as root, so root runs the server as the package's unprivileged user.
RUN_AS=()
if [ "$(id -u)" -eq 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root and there is no 'postgres' user to run the server as"
    RUN_AS=(runuser -u postgres --)
fi

# Under /tmp when root: the server's user must be able to reach its data directory.
TMPBASE=${TMPDIR:-/tmp}
[ "${#RUN_AS[@]}" -eq 0 ] || TMPBASE=/tmp
WORK=$(mktemp -d "$TMPBASE/inventag-pg.XXXXXX")
PGDATA="$WORK/data"
PG_PID=""
cleanup() {
    local status=$?
    trap '' INT TERM  # a second signal must not cut the clean-up short and leave a server behind
    if [ -n "$PG_PID" ] || [ -f "$PGDATA/postmaster.pid" ]; then
        "${RUN_AS[@]}" "$BINDIR/pg_ctl" -D "$PGDATA" -m fast -w -t 20 stop >/dev/null 2>&1 \
            || { [ -z "$PG_PID" ] || kill -KILL "$PG_PID" 2>/dev/null || true; }
    fi
    rm -rf "$WORK"
    exit "$status"
}
# The command runs in the background so that a TERM or INT reaches these traps at once (bash defers traps
# while a foreground child runs); they pass the signal on to it, if it has started, and wait for it.
forward() {
    local child=${!:-}
    if [ -n "$child" ]; then
        kill -"$1" "$child" 2>/dev/null || true
        wait "$child" || true
    fi
}
trap cleanup EXIT
trap 'forward INT; exit 130' INT
trap 'forward TERM; exit 143' TERM

PASSWORD=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
printf '%s\n' "$PASSWORD" >"$WORK/pwfile"
chmod 600 "$WORK/pwfile"
[ "${#RUN_AS[@]}" -eq 0 ] || chown -R postgres: "$WORK"

"${RUN_AS[@]}" "$BINDIR/initdb" -D "$PGDATA" -U "$DB_USER" --pwfile="$WORK/pwfile" --auth=scram-sha-256 \
    --encoding=UTF8 --locale=C -N >"$WORK/initdb.log" 2>&1 || { cat "$WORK/initdb.log" >&2; die "initdb failed"; }
rm -f "$WORK/pwfile"
# A test server: loopback only, its socket in the temporary directory, no durability work. The port is a
# random one that nothing answers on; another program may take it first, so a bind failure tries another.
FAST="-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
start_server() {
    rm -f "$WORK/server.log"
    "${RUN_AS[@]}" "$BINDIR/pg_ctl" -D "$PGDATA" -l "$WORK/server.log" -w -t 30 \
        -o "-c listen_addresses=127.0.0.1 -p $PORT -k $WORK $FAST" \
        start >/dev/null
}
for attempt in 1 2 3 4 5; do
    PORT=$((20000 + RANDOM % 40000))
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && continue
    start_server && break
    grep -q "could not bind" "$WORK/server.log" 2>/dev/null && [ "$attempt" -lt 5 ] && continue
    cat "$WORK/server.log" >&2 2>/dev/null || true
    die "the server did not start on 127.0.0.1:$PORT"
done
[ -f "$PGDATA/postmaster.pid" ] || die "no free port found for the server on 127.0.0.1"
PG_PID=$(head -n 1 "$PGDATA/postmaster.pid")

PGPASSWORD="$PASSWORD" "$BINDIR/createdb" -h 127.0.0.1 -p "$PORT" -U "$DB_USER" "$DB_NAME" \
    || die "createdb $DB_NAME failed"

echo "with_postgres: PostgreSQL $("$BINDIR/postgres" --version | awk '{print $3}') on 127.0.0.1:$PORT," \
    "database $DB_NAME, cluster in $WORK" >&2
export INVENTAG_TEST_POSTGRES_URL="postgresql://$DB_USER:$PASSWORD@127.0.0.1:$PORT/$DB_NAME"
set +e
"$@" &
wait "$!"
status=$?
set -e
exit "$status"
