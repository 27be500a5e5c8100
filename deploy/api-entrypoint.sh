#!/bin/sh
# The API container: apply the database migrations, then replace this shell with uvicorn (signals reach it).
# With arguments, run those instead, e.g. `docker compose run --rm api commons user create admin --admin`.
set -eu
if [ "$#" -gt 0 ]; then
    exec "$@"
fi
commons migrate
# `commons serve` runs uvicorn with the limits `commons up` uses (header size, connections, keep-alive).
# Per-address rate limits need the real client address: the app believes X-Forwarded-For only from
# COMMONS_TRUSTED_PROXIES (your reverse proxy's addresses; empty: trust none).
exec commons serve --host 0.0.0.0 --port 8000
