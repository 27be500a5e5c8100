#!/bin/sh
# A Python 3.11 base image made on this machine, for hosts that cannot pull python:3.11-slim (no registry):
# a Debian bookworm root filesystem made with debootstrap from Debian's mirror, with Debian's python3 (3.11)
# and a virtual environment at /opt/python that is first on PATH, so `pip install` works as in the official
# python images (Debian's own python3 refuses pip installs: PEP 668). Loaded with `docker import`.
#
#   deploy/base/make-debian-python.sh [TAG]      (root; needs debootstrap and a running Docker engine)
#
# TAG defaults to commons-base/debian-python:bookworm. The image carries the sha256 of this script as the
# label org.model-commons.base-digest; when an image of TAG with this script's digest exists, nothing is done.
# DEBIAN_MIRROR picks the mirror (default http://deb.debian.org/debian). The virtual environment gets pip
# PIP_VERSION (default 26.3), fetched by this host's pip (its indexes, proxy and certificates): bookworm's
# pip 23.0.1 backtracks without end over the project's dependencies.
set -eu

tag="${1:-commons-base/debian-python:bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
pip_version="${PIP_VERSION:-26.3}"
cache="${DEBOOTSTRAP_CACHE:-/var/cache/model-commons/debootstrap}"  # downloaded .debs, kept for the next run
digest="$( (sha256sum <"$0"; echo "$mirror $pip_version") | sha256sum | cut -c1-16)"
label="org.model-commons.base-digest"

existing="$(docker image inspect --format "{{ index .Config.Labels \"$label\" }}" "$tag" 2>/dev/null || true)"
if [ "$existing" = "$digest" ]; then
    echo "base $tag is up to date (digest $digest)"
    exit 0
fi
if ! command -v debootstrap >/dev/null 2>&1; then
    echo "debootstrap is missing: apt-get install debootstrap (Debian/Ubuntu), then run this again" >&2
    exit 1
fi

started="$(date +%s)"
rootfs="$(mktemp -d "${TMPDIR:-/tmp}/commons-base.XXXXXX")"
cleanup() {
    # debootstrap may leave proc/sys mounted inside the tree after a failure: unmount before removing.
    for mounted in proc sys dev/pts dev; do
        umount "$rootfs/$mounted" 2>/dev/null || true
    done
    rm -rf --one-file-system "$rootfs"
}
trap cleanup EXIT
trap "exit 1" INT TERM

mkdir -p "$cache"
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates --cache-dir="$cache" \
    bookworm "$rootfs" "$mirror"
chroot "$rootfs" /usr/bin/python3 -m venv /opt/python
"${PYTHON:-python3}" -m pip download --quiet --no-deps --only-binary=:all: --dest "$rootfs/tmp/pip" "pip==$pip_version"
wheel="$(cd "$rootfs/tmp/pip" && ls pip-*.whl)"
chroot "$rootfs" /opt/python/bin/python -m pip install --quiet --no-index --disable-pip-version-check "/tmp/pip/$wheel"
chroot "$rootfs" /opt/python/bin/python -c "import ssl, sqlite3, venv, pip; print('python', __import__('sys').version.split()[0], 'pip', pip.__version__)"
chroot "$rootfs" apt-get clean
rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/log/*.log "$rootfs"/tmp/*

tar --numeric-owner -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/opt/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' \
    --change "LABEL $label=$digest" \
    --change 'CMD ["python3"]' \
    - "$tag" >/dev/null
echo "base $tag made in $(($(date +%s) - started)) s: $(docker image inspect --format '{{.Size}}' "$tag") bytes"
