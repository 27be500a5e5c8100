"""`commons resources list|create|upload`: what you may use, a new resource, a new version of one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from launcher.commands.common import connect, plain_errors, print_json, say
from launcher.sdk.arguments import params_object
from launcher.sdk.errors import BadArgument

resources_app = typer.Typer(help="List, create and publish resources (models).", no_args_is_help=True)
MAX_CONFIG_BYTES = 1024 * 1024


@resources_app.command("list")
@plain_errors
def list_resources(
    limit: Annotated[int, typer.Option(min=1, max=200, help="At most this many.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="The API's JSON, for scripts.")] = False,
) -> None:
    """The resources you may read: owner/name, kind, latest version, visibility and title."""
    with connect() as commons:
        found = commons.resources(limit=limit)
    if as_json:
        print_json(found)
        return
    if not found:
        say("no resources you may read")
    for item in found:
        latest = f"v{item['latest_version']}" if item.get("latest_version") else "-"
        typer.echo(
            f"{item['ref'] or item['name']:<40} {item['kind']:<20} {latest:>5}  {item['visibility']:<8} {item['title']}"
        )


@resources_app.command("create")
@plain_errors
def create_resource(
    name: Annotated[str, typer.Argument(help="The name under your account (letters, digits, - and _).")],
    kind: Annotated[str, typer.Option(help="segmenter.sam, classifier.resnet, classifier.blocks, …")],
    title: Annotated[str, typer.Option(help="A title people read.")],
    description: Annotated[str, typer.Option()] = "",
    citation: Annotated[str, typer.Option()] = "",
    license_: Annotated[str, typer.Option("--license")] = "",
    visibility: Annotated[str, typer.Option(help="private or public.")] = "private",
) -> None:
    """Create a resource you own; publish its files with `commons resources upload`."""
    spec: dict[str, Any] = {"description": description, "citation": citation, "license": license_}
    with connect() as commons:
        made = commons.create_resource(name, kind=kind, title=title, visibility=visibility, **spec)
    say(f"created {made['ref'] or made['name']} ({made['kind']}, {made['visibility']})")
    typer.echo(made["ref"] or made["name"])


def _config(text: str) -> dict[str, Any]:
    """`--config`: a JSON object, or @FILE / a path to a JSON file."""
    path = Path(text.removeprefix("@"))
    if text.startswith("@") or (not text.lstrip().startswith("{") and path.suffix == ".json"):
        if not path.is_file():
            raise BadArgument(f"{path}: no such config file")
        if path.stat().st_size > MAX_CONFIG_BYTES:
            raise BadArgument(f"{path} is over {MAX_CONFIG_BYTES // 1024} KiB, too large for a config")
        text = path.read_text()
    return params_object(text)


@resources_app.command("upload")
@plain_errors
def upload_version(
    resource: Annotated[str, typer.Argument(help="owner/name (or a name of yours).")],
    files: Annotated[list[Path], typer.Argument(help="The version's files (weights, …).", exists=True, dir_okay=False)],
    config: Annotated[str, typer.Option(help="The config: JSON, or @config.json.")] = "{}",
    parent: Annotated[int | None, typer.Option(help="The version this one is made from.")] = None,
    metrics: Annotated[str | None, typer.Option(help="Reported metrics: JSON, or @metrics.json.")] = None,
) -> None:
    """Publish FILES as the next version of RESOURCE (immutable; its digest identifies it in every task)."""
    more: dict[str, Any] = {}
    if parent is not None:
        more["parent"] = parent
    if metrics is not None:
        more["reported_metrics"] = _config(metrics)
    with connect() as commons:
        version = commons.publish_version(resource, files, config=_config(config), **more)
    say(f"published {resource} v{version['version']} (digest {version['digest'][:16]}…)")
    typer.echo(json.dumps({"resource": resource, "version": version["version"], "digest": version["digest"]}))
