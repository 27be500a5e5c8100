#!/usr/bin/env bash
# Build the API and worker images (deploy/Dockerfile.api, deploy/Dockerfile.worker) from the repository root.
#
#   deploy/build-images.sh [--base IMAGE|local] [--torch cpu|cuda] [--wheelhouse DIR] [--tag TAG] [--only api|worker]
#
#   --base IMAGE    the Python 3.11 base image (default python:3.11.14-slim-bookworm); `local` makes one from
#                   Debian's packages first (deploy/base/make-debian-python.sh: commons-base/debian-python:bookworm),
#                   for hosts that cannot pull from a registry
#   --torch V       the torch build of both images (default: cpu for the API, cuda for the worker); with the same
#                   value both images share their first layers (base, user, torch)
#   --wheelhouse D  install every Python package from D, filled beforehand on this host by `pip wheel` (so pip's
#                   own configuration here: its indexes, proxies, certificates) and served to the builds on
#                   127.0.0.1:$WHEELHOUSE_PORT (default 18731); the builds then need no index at all
#   --tag TAG       image tag (default: pyproject.toml's version): model-commons-api:TAG, model-commons-worker:TAG
#   --only NAME     build one of the two images
#
# Each image is labelled with a digest of what it is built from (its Dockerfile, the files it copies, the base
# image's id, the torch build); an image of that tag with the same digest is not built again, so a second run
# with nothing changed takes seconds. Otherwise Docker's layer cache still skips every step before the first
# changed one (a source change reinstalls only the project). Prints each image's size and build time.
# Builds use BuildKit (`docker buildx`, or the classic CLI's built-in BuildKit before Docker 23), else the
# legacy builder; `docker build --network host`, so a wheelhouse on loopback is reachable. One run at a time
# per host (flock).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

base="python:3.11.14-slim-bookworm"
torch=""
wheelhouse=""
tag="$(sed -n 's/^version = "\(.*\)"$/\1/p' pyproject.toml | head -n1)"
only=""
port="${WHEELHOUSE_PORT:-18731}"
label="org.model-commons.source-digest"
copied=(pyproject.toml commons resources registry flows services api launcher
    deploy/api-entrypoint.sh deploy/worker-entrypoint.sh deploy/healthcheck.py)

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2; exit 2; }
while [ "$#" -gt 0 ]; do
    case "$1" in
        --base) base="$2"; shift 2 ;;
        --torch) torch="$2"; shift 2 ;;
        --wheelhouse) wheelhouse="$2"; shift 2 ;;
        --tag) tag="$2"; shift 2 ;;
        --only) only="$2"; shift 2 ;;
        -h|--help) usage ;;
        *) echo "unknown argument $1" >&2; usage ;;
    esac
done
case "$torch" in ""|cpu|cuda) ;; *) echo "--torch takes cpu or cuda, not '$torch'" >&2; exit 2 ;; esac
case "$only" in ""|api|worker) ;; *) echo "--only takes api or worker, not '$only'" >&2; exit 2 ;; esac

exec 9>"${TMPDIR:-/tmp}/model-commons-build-images.lock"
flock 9

if [ "$base" = local ]; then
    base="commons-base/debian-python:bookworm"
    "$root/deploy/base/make-debian-python.sh" "$base"
fi

variant_of() { # the torch build of image $1
    if [ -n "$torch" ]; then echo "$torch"; elif [ "$1" = api ]; then echo cpu; else echo cuda; fi
}

source_digest() { # what image $1 is built from, as 16 hex digits
    local base_id
    base_id="$(docker image inspect --format '{{.Id}}' "$base" 2>/dev/null || echo "$base")"
    {
        echo "base $base_id torch $(variant_of "$1")"
        sha256sum "deploy/Dockerfile.$1"
        find "${copied[@]}" -type f ! -path '*/__pycache__/*' ! -name '*.pyc' ! -name '*.env' -print0 \
            | LC_ALL=C sort -z | xargs -0 sha256sum
    } | sha256sum | cut -c1-16
}

pick_builder() {
    local cli major
    for cli in docker /usr/bin/docker; do
        command -v "$cli" >/dev/null 2>&1 || continue
        if "$cli" buildx version >/dev/null 2>&1; then
            builder=("$cli" buildx build --load --progress plain)
            return
        fi
        major="$("$cli" version --format '{{.Client.Version}}' 2>/dev/null | cut -d. -f1)"
        if [ -n "$major" ] && [ "$major" -lt 23 ] 2>/dev/null; then
            builder=(env DOCKER_BUILDKIT=1 "$cli" build --progress plain)
            return
        fi
    done
    echo "no BuildKit client (docker buildx, or a docker CLI before 23): the legacy builder builds each image's" \
        "layers separately" >&2
    builder=(env DOCKER_BUILDKIT=0 docker build)
}

fill_wheelhouse() { # the wheels of torch build $1's requirements, for the base image's Python, once per set
    local variant="$1" requirements stamp python started cert
    requirements="$(mktemp -p "$wheelhouse" .requirements.XXXXXX)"
    python="${PYTHON:-python3}"
    [ -x "$root/.venv/bin/python" ] && python="${PYTHON:-$root/.venv/bin/python}"
    "$python" - "$variant" >"$requirements" <<'EOF'
import sys, tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
dev = {r.split("==")[0]: r for r in project["optional-dependencies"]["dev"]}
pins = list(project["dependencies"]) + [dev["prefect-docker"], dev["prefect-kubernetes"]]
if sys.argv[1] == "cpu":
    print("--extra-index-url https://download.pytorch.org/whl/cpu")
    pins = [p + "+cpu" if p.split("==")[0] in ("torch", "torchvision") else p for p in pins]
print("\n".join(pins))
EOF
    stamp="$wheelhouse/.filled-$( (cat "$requirements"; docker image inspect --format '{{.Id}}' "$base") \
        | sha256sum | cut -c1-16)"
    if [ ! -e "$stamp" ]; then
        started="$(date +%s)"
        # 1. This host's pip: its indexes, local wheel folders, proxy and certificates.
        echo "wheelhouse: pip wheel ($variant torch) on this host into $wheelhouse"
        "$python" -m pip wheel --quiet --wheel-dir "$wheelhouse" --find-links "$wheelhouse" -r "$requirements"
        # 2. The base image's pip and Python, which may need more (markers such as python_full_version <
        #    '3.11.3' hold for Debian's 3.11.2, not for this host's Python): the wheelhouse first, then the index.
        echo "wheelhouse: completed for the base image's Python ($base)"
        cert="${PIP_CERT:-/etc/ssl/certs/ca-certificates.crt}"
        [ -r "$cert" ] || cert=""
        docker run --rm --network host --user "$(id -u):$(id -g)" -e HOME=/tmp \
            -v "$wheelhouse:/wheelhouse" ${cert:+-v "$cert:/etc/pip-ca.crt:ro" -e PIP_CERT=/etc/pip-ca.crt} \
            --entrypoint pip "$base" wheel --quiet --disable-pip-version-check --wheel-dir /wheelhouse \
            --find-links /wheelhouse -r "/wheelhouse/$(basename "$requirements")"
        touch "$stamp"
        echo "wheelhouse filled in $(($(date +%s) - started)) s ($(du -sh "$wheelhouse" | cut -f1))"
    fi
    rm -f "$requirements"
}

server_pid=""
stop_server() { [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null; wait "$server_pid" 2>/dev/null || true; }
trap stop_server EXIT
trap "exit 1" INT TERM

serve_wheelhouse() {
    python3 -m http.server --bind 127.0.0.1 --directory "$wheelhouse" "$port" >/dev/null 2>&1 &
    server_pid=$!
    for _ in $(seq 1 50); do
        if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/', timeout=1)" 2>/dev/null
        then return; fi
        kill -0 "$server_pid" 2>/dev/null || break
        sleep 0.1
    done
    echo "the wheelhouse server did not start on 127.0.0.1:$port (in use? set WHEELHOUSE_PORT)" >&2
    exit 1
}

names=(api worker)
[ -n "$only" ] && names=("$only")
declare -A digests
todo=()
for name in "${names[@]}"; do
    digests[$name]="$(source_digest "$name")"
    have="$(docker image inspect --format "{{ index .Config.Labels \"$label\" }}" "model-commons-$name:$tag" \
        2>/dev/null || true)"
    if [ "$have" = "${digests[$name]}" ]; then
        echo "model-commons-$name:$tag is up to date (source digest ${digests[$name]})"
    else
        todo+=("$name")
    fi
done

if [ "${#todo[@]}" -gt 0 ]; then
    pick_builder
    pip_args=()
    if [ -n "$wheelhouse" ]; then
        mkdir -p "$wheelhouse"
        wheelhouse="$(cd "$wheelhouse" && pwd)"
        for name in "${todo[@]}"; do fill_wheelhouse "$(variant_of "$name")"; done
        serve_wheelhouse
        pip_args=(--build-arg "PIP_FIND_LINKS=http://127.0.0.1:$port/" --build-arg PIP_NO_INDEX=1)
    fi
    for name in "${todo[@]}"; do
        echo "building model-commons-$name:$tag (base $base, $(variant_of "$name") torch) with ${builder[*]}"
        started="$(date +%s)"
        previous="$(docker image inspect --format '{{.Id}}' "model-commons-$name:$tag" 2>/dev/null || true)"
        "${builder[@]}" --network host -f "deploy/Dockerfile.$name" -t "model-commons-$name:$tag" \
            --build-arg "BASE_IMAGE=$base" --build-arg "TORCH_VARIANT=$(variant_of "$name")" "${pip_args[@]}" \
            --label "$label=${digests[$name]}" .
        echo "built model-commons-$name:$tag in $(($(date +%s) - started)) s"
        # The image this tag named before, now untagged: remove it (its layers shared with the new one stay).
        if [ -n "$previous" ] && [ "$(docker image inspect --format '{{len .RepoTags}}' "$previous")" = 0 ]; then
            docker image rm "$previous" >/dev/null 2>&1 || true
        fi
    done
fi

for name in "${names[@]}"; do
    size="$(docker image inspect --format '{{.Size}}' "model-commons-$name:$tag")"
    echo "model-commons-$name:$tag $((size / 1000000)) MB"
done
