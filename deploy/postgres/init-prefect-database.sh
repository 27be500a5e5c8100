#!/bin/sh
# Runs once, when the postgres container starts on an empty data volume (docker-entrypoint-initdb.d):
# the image has created the `commons` role and database; this adds the `prefect` role and its database,
# so the Prefect server and the commons never share a schema. The password arrives as a psql variable,
# never spliced into SQL by the shell.
set -eu
psql --set=ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    --set=prefect_password="$PREFECT_POSTGRES_PASSWORD" <<'SQL'
CREATE ROLE prefect LOGIN PASSWORD :'prefect_password';
CREATE DATABASE prefect OWNER prefect;
SQL
