#!/bin/sh
# The worker container, in one of two roles (the first argument), or any other command:
#   batch  a Prefect worker polling COMMONS_WORK_POOL (type WORKER_POOL_TYPE, `process` by default: each
#          task runs as a process in this container), at most WORKER_LIMIT runs at once, with its health
#          server on :8080 (/health)
#   warm   a long-lived Prefect task worker for the warm lane (python -m flows.warm_lane)
#   …      anything else is run as given (docker and kubernetes pools start runs with
#          `prefect flow-run execute`, see deploy/prefect.yaml)
set -eu
role="${1:-batch}"
case "$role" in
    batch)
        [ "$#" -gt 0 ] && shift
        exec prefect worker start \
            --pool "${COMMONS_WORK_POOL:?set COMMONS_WORK_POOL}" \
            --type "${WORKER_POOL_TYPE:-process}" \
            --name "${WORKER_NAME:-gpu-$(hostname)}" \
            --limit "${WORKER_LIMIT:-1}" \
            --with-healthcheck \
            "$@"
        ;;
    warm)
        shift
        exec python -m flows.warm_lane "$@"
        ;;
    *)
        exec "$@"
        ;;
esac
