"""The publish step: every output under `tasks/<id>/outputs/`, then `manifest.json` last."""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path
from typing import Any

from commons.hashing import sha256_file
from commons.store import ObjectStore, keys
from flows.prepare import Prepared
from registry.clock import utcnow

MANIFEST_SCHEMA = "model-commons/manifest/1"


def upload_outputs(*, store: ObjectStore, prepared: Prepared, files: list[Path]) -> list[dict[str, Any]]:
    out_root = prepared.work_dir / "outputs"
    published = []
    for path in sorted(files):
        relative = path.relative_to(out_root).as_posix()
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        key = keys.task_output(prepared.task_id, relative)
        store.put_file(key=key, path=path, content_type=content_type)
        published.append(
            {
                "name": relative,
                "key": key,
                "size": path.stat().st_size,
                "sha256": sha256_file(path),
                "content_type": content_type,
            }
        )
    return published


def build_manifest(*, prepared: Prepared, outputs: list[dict[str, Any]], steps: list[dict[str, Any]]) -> dict[str, Any]:
    """Everything needed to re-run the task and check the result: inputs, weights, params, environment."""
    return {
        "schema": MANIFEST_SCHEMA,
        "task": {
            "id": prepared.task_id,
            "mode": prepared.mode,
            "submitted_by": prepared.submitted_by,
            "flow_run_id": prepared.flow_run_id,
            "published_at": utcnow().isoformat(),
        },
        "resource": {
            **prepared.resource,
            "config": prepared.config,
            "files": [
                {"name": name, "sha256": f.sha256, "size": f.size, "cache": "hit" if f.hit else "miss"}
                for name, f in sorted(prepared.weights.items())
            ],
        },
        "params": prepared.params,
        "seed": prepared.seed,
        "inputs": [
            {
                "upload_id": i.upload_id,
                "name": i.name,
                "output_folder": i.stem,
                "sha256": i.file.sha256,
                "size": i.file.size,
                "cache": "hit" if i.file.hit else "miss",
            }
            for i in prepared.inputs
        ],
        "outputs": [{k: o[k] for k in ("name", "key", "size", "sha256", "content_type")} for o in outputs],
        "environment": prepared.environment,
        "timings": prepared.timings,
        "steps": steps,
    }


def write_manifest(*, store: ObjectStore, task_id: str, manifest: dict[str, Any]) -> str:
    key = keys.task_manifest(task_id)
    store.put_bytes(key=key, data=json.dumps(manifest, indent=2).encode(), content_type="application/json")
    return key
