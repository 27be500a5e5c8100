#!/bin/sh
# The API container: apply the database migrations, then replace this shell with uvicorn (signals reach it).
# With arguments, run those instead, e.g. `docker compose run --rm api commons user create admin --admin`.
set -eu
if [ "$#" -gt 0 ]; then
    exec "$@"
fi
commons migrate
# Per-address rate limits need the real client address: trust X-Forwarded-For only from FORWARDED_ALLOW_IPS
# (your reverse proxy; uvicorn's default is 127.0.0.1).
exec uvicorn api.app:create_app --factory --host 0.0.0.0 --port 8000 --no-access-log \
    --proxy-headers --forwarded-allow-ips "${FORWARDED_ALLOW_IPS:-127.0.0.1}"
