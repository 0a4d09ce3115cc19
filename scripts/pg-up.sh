#!/usr/bin/env bash
# Starts a throwaway PostgreSQL cluster (Debian's server binaries) for development and for generating
# PostgreSQL migrations. Prints the lines to `eval`: PGDIR, PGPORT, PGURL (superuser "postgres", password
# "postgres", TCP on 127.0.0.1). Stop it with scripts/pg-down.sh "$PGDIR".
#   usage: eval "$(scripts/pg-up.sh [port])"
set -euo pipefail
BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
if [ -z "$BIN" ] || [ ! -x "$BIN/initdb" ]; then
  echo "pg-up: PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin; install them: apt-get install -y postgresql" >&2
  exit 1
fi
PORT=${1:-$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')}
PGDIR=$(mktemp -d /tmp/outflow-pg.XXXXXX)
chmod 0755 "$PGDIR"
echo postgres > "$PGDIR/pwfile"
RUN=()
if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$PGDIR" "$PGDIR/pwfile"; RUN=(runuser -u postgres --); fi
"${RUN[@]}" "$BIN/initdb" -D "$PGDIR/data" -U postgres --pwfile="$PGDIR/pwfile" --auth-local=trust --auth-host=scram-sha-256 -E UTF8 --locale=C --no-sync >"$PGDIR/initdb.log" 2>&1 \
  || { cat "$PGDIR/initdb.log" >&2; exit 1; }
"${RUN[@]}" "$BIN/pg_ctl" -D "$PGDIR/data" -l "$PGDIR/server.log" -w -t 30 \
  -o "-p $PORT -c listen_addresses=127.0.0.1 -k $PGDIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off" start >/dev/null \
  || { cat "$PGDIR/server.log" >&2; exit 1; }
echo "PGDIR=$PGDIR"
echo "PGPORT=$PORT"
echo "PGURL=postgres://postgres:postgres@127.0.0.1:$PORT/postgres"
