#!/bin/sh
# The local PostgreSQL image's entrypoint (Dockerfile.postgres): on an empty data folder, create the cluster with
# POSTGRES_USER as its superuser (password POSTGRES_PASSWORD, scram-sha-256 over TCP), the database POSTGRES_DB,
# then run /docker-entrypoint-initdb.d/*.sh and *.sql once against a server listening on its socket only; then
# replace this shell with the server (signals reach it). As the official image does, in the part compose.yaml uses.
set -eu
: "${POSTGRES_PASSWORD:?set POSTGRES_PASSWORD}"
export POSTGRES_USER="${POSTGRES_USER:-postgres}"
export POSTGRES_DB="${POSTGRES_DB:-$POSTGRES_USER}"

if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pwfile="$(mktemp)"
    printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
    initdb --username="$POSTGRES_USER" --pwfile="$pwfile" --auth-local=trust --auth-host=scram-sha-256 \
        --encoding=UTF8 --locale=C.UTF-8 >/dev/null
    rm -f "$pwfile"
    echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
    pg_ctl --wait --silent --options="-c listen_addresses=''" start
    if [ "$POSTGRES_DB" != postgres ]; then
        echo 'CREATE DATABASE :"db";' | psql --set=ON_ERROR_STOP=1 --username="$POSTGRES_USER" --dbname=postgres \
            --set=db="$POSTGRES_DB" >/dev/null
    fi
    for script in /docker-entrypoint-initdb.d/*; do
        case "$script" in
            *.sh) echo "running $script"; sh "$script" ;;
            *.sql) echo "running $script"; psql --set=ON_ERROR_STOP=1 --username="$POSTGRES_USER" \
                --dbname="$POSTGRES_DB" --file="$script" ;;
            *) [ -e "$script" ] && echo "ignoring $script" ;;
        esac
    done
    pg_ctl --wait --silent --mode=fast stop
    echo "PostgreSQL cluster initialised in $PGDATA"
fi
exec postgres -c listen_addresses='*'
