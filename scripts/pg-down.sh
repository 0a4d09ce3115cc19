#!/usr/bin/env bash
# Stops a cluster started by scripts/pg-up.sh and deletes its folder.   usage: scripts/pg-down.sh "$PGDIR"
set -euo pipefail
PGDIR=${1:?usage: pg-down.sh <PGDIR>}
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
RUN=()
if [ "$(id -u)" = 0 ]; then RUN=(runuser -u postgres --); fi
[ -d "$PGDIR/data" ] && "${RUN[@]}" "$BIN/pg_ctl" -D "$PGDIR/data" stop -m immediate >/dev/null 2>&1 || true
rm -rf "$PGDIR"
