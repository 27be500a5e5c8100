"""`Commons`: the Python client for scripts. Run a model on photos and get its outputs in a folder, follow a task,
reproduce one, publish resources and versions, move datasets in and out.

    >>> from launcher.sdk import Commons
    >>> with Commons("http://127.0.0.1:8000", token="mc_…") as commons:  # or Commons.from_credentials()
    ...     outputs = commons.run("alice/sam", inputs=["photo.jpg"], params={"mode": "auto"}, out="segments")
    >>> outputs.files          # [PosixPath('segments/labels.png'), …, PosixPath('segments/manifest.json')]
    >>> outputs.manifest["version"]["digest"]

Every error the API answers is raised as `ApiError` with the API's own words in `.message`; problems found on
this side (a bad argument, a corrupt download, a failed task) as `SdkError` subclasses, also with `.message`.
"""

from __future__ import annotations

import mimetypes
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

from launcher.client import TERMINAL, CommonsClient
from launcher.sdk import credentials
from launcher.sdk.arguments import resource_ref
from launcher.sdk.errors import BadArgument, TaskFailed
from launcher.sdk.outputs import Outputs, download_outputs

OnUpdate = Callable[[dict[str, Any]], None]
MAX_INPUTS = 256  # what POST /tasks takes


class Commons:
    """A session with one commons, authenticated by an API token (make one with `Commons.sign_in`, the web
    page's account menu, or `commons login`)."""

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 120) -> None:
        self.url = url.rstrip("/")
        self.client = CommonsClient(self.url, token=token, timeout=timeout)

    @classmethod
    def from_credentials(cls, *, timeout: float = 120) -> Commons:
        """The commons that `commons login` saved (COMMONS_URL and COMMONS_TOKEN override it)."""
        saved = credentials.load()
        return cls(saved.url, saved.token, timeout=timeout)

    @classmethod
    def sign_in(cls, url: str, username: str, password: str, *, token_name: str | None = None) -> tuple[Commons, str]:
        """Sign in with a password and make a named API token; returns the session on that token and the token
        (shown once: keep it, e.g. with `credentials.save`)."""
        session = CommonsClient(url)
        try:
            session.sign_in(username, password)
            name = token_name or f"commons CLI on {socket.gethostname()}"[:100]
            made = session._check(session.http.post("/users/me/tokens", json={"name": name}))
        finally:
            session.close()
        token = str(made["token"])
        return cls(url, token), token

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Commons:
        return self

    def __exit__(self, *_: type[BaseException] | BaseException | TracebackType | None) -> None:
        self.close()

    def _get(self, path: str, **params: Any) -> Any:
        return self.client._check(self.client.http.get(path, params=params or None))

    def _post(self, path: str, **kwargs: Any) -> Any:
        return self.client._check(self.client.http.post(path, **kwargs))

    def whoami(self) -> dict[str, Any]:
        """The account the token belongs to (`GET /users/me`)."""
        return dict(self._get("/users/me"))

    # Resources

    def resources(self, *, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        """The resources you may read, newest first."""
        return list(self._get("/resources", limit=limit, offset=offset))

    def resource(self, name: str) -> dict[str, Any]:
        """One resource (`owner/name`, or a bare name that is yours or the only one you see)."""
        return dict(self._get(f"/resources/{name}"))

    def create_resource(self, name: str, *, kind: str, title: str, **more: Any) -> dict[str, Any]:
        """A new resource of yours; `more`: description, citation, license, visibility ("private" by default).

        >>> commons.create_resource("sam-tiny", kind="segmenter.sam", title="Tiny SAM", visibility="public")
        """
        return self.client.create_resource(name=name, kind=kind, title=title, **more)

    def publish_version(
        self, resource: str, files: Sequence[Path | str], *, config: dict[str, Any], **more: Any
    ) -> dict[str, Any]:
        """Upload files and a config as the resource's next version; `more`: sha256, parent, reported_metrics,
        execution (see `POST /resources/{name}/versions`)."""
        paths = [_existing_file(path) for path in files]
        return self.client.upload_version(resource, files=paths, config=config, **more)

    # Tasks

    def upload(self, path: Path | str) -> str:
        """Upload one photo for a task; its upload id."""
        file = _existing_file(path)
        content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        with file.open("rb") as handle:
            made = self._post("/uploads", files={"file": (file.name, handle, content_type)})
        return str(made["id"])

    def submit(
        self,
        resource: str,
        *,
        mode: str = "infer",
        inputs: Sequence[Path | str] = (),
        upload_ids: Sequence[str] = (),
        params: dict[str, Any] | None = None,
        dataset: str | None = None,
        lane: str = "auto",
        version: int | str | None = None,
    ) -> dict[str, Any]:
        """Upload `inputs` (file paths) and submit a task on `resource` (`owner/name[:VERSION]`, or `version=`);
        answers at once with the task (`pending`). `upload_ids`: photos uploaded before."""
        if len(inputs) + len(upload_ids) > MAX_INPUTS:
            raise BadArgument(f"{len(inputs) + len(upload_ids)} inputs: a task takes at most {MAX_INPUTS}")
        name, named_version = resource_ref(resource)
        for path in inputs:
            _existing_file(path)  # every file is checked before the first is uploaded
        ids = [*upload_ids, *(self.upload(path) for path in inputs)]
        return self.client.submit(
            resource=name,
            version=version if version is not None else named_version,
            mode=mode,
            params=params or {},
            inputs=ids if ids else None,
            dataset=dataset,
            lane=lane,
        )

    def task(self, task_id: str) -> dict[str, Any]:
        """The task as the API shows it now."""
        return self.client.task(task_id)

    def follow(self, task_id: str, *, on_update: OnUpdate | None = None) -> dict[str, Any]:
        """Wait for the task to end, following its event stream (reconnecting if it drops); `on_update` gets the
        task at every change (status, step, progress). Returns the ended task; failed or cancelled ones too."""
        for name, data in self.client.follow(task_id):
            if name != "task":
                continue
            if on_update is not None:
                on_update(data)
            if data["status"] in TERMINAL:
                return self.client.task(task_id)  # the full view: outputs with their URLs
        return self.client.task(task_id)  # pragma: no cover - follow returns only after a terminal event

    def outputs(self, task: dict[str, Any] | str, out: Path | str | None = None) -> Outputs:
        """Download a succeeded task's outputs and `manifest.json` into `out` (default `./task-<id>`)."""
        shown = self.client.task(task) if isinstance(task, str) else task
        if shown["status"] != "succeeded":
            raise TaskFailed(shown)
        return download_outputs(shown, Path(out) if out is not None else Path(f"task-{shown['id']}"))

    def run(
        self,
        resource: str,
        *,
        out: Path | str | None = None,
        on_update: OnUpdate | None = None,
        **submit: Any,
    ) -> Outputs:
        """`submit`, `follow`, then `outputs`: the task's files in `out`. Raises `TaskFailed` (with the reason)
        when the task fails.

        >>> outputs = commons.run("alice/sam:1", inputs=["coffee.png"], params={"mode": "auto"}, out="out")
        >>> outputs["masks.json"].read_text()
        """
        task = self.submit(resource, **submit)
        ended = self.follow(task["id"], on_update=on_update)
        return self.outputs(ended, out)

    def reproduce(self, task_id: str, *, out: Path | str | None = None, on_update: OnUpdate | None = None) -> Outputs:
        """Run a succeeded task again (same version, inputs, parameters, seed) and download the re-run's outputs,
        `reproduction.json` among them (`outputs.report`)."""
        task = self._post(f"/tasks/{task_id}/reproduce")
        ended = self.follow(task["id"], on_update=on_update)
        return self.outputs(ended, out)

    # Datasets

    def datasets(self, *, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
        """The datasets you may read."""
        return list(self._get("/datasets", limit=limit, offset=offset))

    def create_dataset(self, name: str, **more: Any) -> dict[str, Any]:
        """A new dataset of yours; `more`: slug, description, visibility, classes."""
        return dict(self._post("/datasets", json={"name": name, **more}))

    def import_dataset(self, dataset: str, archive: Path | str) -> dict[str, Any]:
        """Add a zip of class folders of photos (the ImageFolder layout) to `dataset` (`owner/slug` or id)."""
        file = _existing_file(archive)
        with file.open("rb") as handle:
            answer = self._post(f"/datasets/{dataset}/import", files={"file": (file.name, handle, "application/zip")})
        return dict(answer)

    def import_coco(
        self, archive: Path | str, *, name: str | None = None, visibility: str = "private"
    ) -> dict[str, Any]:
        """A new dataset of yours from a COCO zip (`annotations.json` and the photos under `images/`): categories
        become classes, a photo is labelled with the one category its annotations name."""
        file = _existing_file(archive)
        form = {"visibility": visibility, **({"name": name} if name else {})}
        with file.open("rb") as handle:
            answer = self._post("/datasets/coco", data=form, files={"file": (file.name, handle, "application/zip")})
        return dict(answer)

    def export_dataset(self, dataset: str, out: Path | str, *, coco: bool = False) -> Path:
        """The dataset as a zip written to `out`: one folder per class, or with `coco` COCO's `annotations.json`
        and `images/`."""
        target = Path(out)
        partial = target.with_name(target.name + ".part")
        path = f"/datasets/{dataset}/{'coco' if coco else 'export'}"
        try:
            with self.client.http.stream("GET", path) as response:
                if response.status_code >= 400:
                    response.read()
                    self.client._check(response)
                with partial.open("wb") as sink:
                    for chunk in response.iter_bytes(1024 * 1024):
                        sink.write(chunk)
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)
        return target


def _existing_file(path: Path | str) -> Path:
    file = Path(path)
    if not file.is_file():
        raise BadArgument(f"{file}: no such file")
    return file
