"""Validate one RO-Crate with roc-validator, offline; run by `tests.crates.validator` with the Python of the
validator's own environment (this file imports nothing of the project).

roc-validator resolves the crate's JSON-LD `@context` over HTTP through its cache (requests-cache); in offline
mode the cache is all it reads. The RO-Crate 1.1 context is seeded into a fresh cache from the copy that the
`rocrate` package (0.13) ships, so no network is needed. Prints one JSON object: passed, and every issue.

Usage: python validate_offline.py CRATE.zip PROFILE
"""

from __future__ import annotations

import importlib.resources
import io
import json
import sys
import tempfile

import requests
import urllib3
from requests_cache import CachedSession
from rocrate_validator import models, services

CONTEXT = "https://w3id.org/ro/crate/1.1/context"


def seed(cache: str) -> None:
    body = importlib.resources.files("rocrate").joinpath("data/ro-crate.jsonld").read_bytes()
    if json.loads(body).get("@id") != CONTEXT:
        raise SystemExit(f"the rocrate package here does not ship the context {CONTEXT}")
    response = requests.Response()
    response.status_code, response.url, response._content = 200, CONTEXT, body
    response.headers["Content-Type"] = "application/ld+json"
    response.raw = urllib3.HTTPResponse(
        body=io.BytesIO(body), headers=dict(response.headers), status=200, preload_content=False, request_url=CONTEXT
    )
    response.request = requests.Request(
        "GET", CONTEXT, headers={"Accept": "application/ld+json, application/json, */*;q=0.1"}
    ).prepare()
    CachedSession(cache_name=cache, backend="sqlite", expire_after=-1).cache.save_response(response)


def main(crate: str, profile: str) -> None:
    with tempfile.TemporaryDirectory(prefix="roc-validator-") as folder:
        cache = f"{folder}/http-cache"
        seed(cache)
        settings = services.ValidationSettings(
            rocrate_uri=crate,
            profile_identifier=profile,
            requirement_severity=models.Severity.REQUIRED,
            offline=True,
            cache_path=cache,
        )
        result = services.validate(settings)
        issues = [
            {
                "severity": issue.severity.name,
                "check": issue.check.identifier if issue.check else None,
                "message": issue.message,
            }
            for issue in result.get_issues()
        ]
        print(json.dumps({"passed": result.passed(), "issues": issues}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
