"""`commons datasets list|import|export`: labelled photo datasets in and out as zips of class folders."""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path
from typing import Annotated

import typer

from launcher.commands.common import connect, plain_errors, print_json, say
from launcher.sdk.errors import BadArgument

datasets_app = typer.Typer(help="List, import and export labelled photo datasets.", no_args_is_help=True)
MAX_FOLDER_FILES = 100_000


@datasets_app.command("list")
@plain_errors
def list_datasets(
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="The API's JSON, for scripts.")] = False,
) -> None:
    """The datasets you may read: owner/slug, photos (labelled), classes and name."""
    with connect() as commons:
        found = commons.datasets(limit=limit)
    if as_json:
        print_json(found)
        return
    if not found:
        say("no datasets you may read")
    for item in found:
        counts = f"{item['item_count']} ({item['labelled_count']} labelled)"
        typer.echo(f"{item['ref']:<40} {counts:<22} {len(item['classes']):>4} classes  {item['name']}")


def _zip_folder(folder: Path, target: Path) -> None:
    """The ImageFolder layout as the commons reads it: `class/photo.jpg`; top-level files are unlabelled."""
    files = [path for path in sorted(folder.rglob("*")) if path.is_file() and not path.name.startswith(".")]
    if not files:
        raise BadArgument(f"{folder} holds no files: put photos in one folder per class")
    if len(files) > MAX_FOLDER_FILES:
        raise BadArgument(f"{folder} holds {len(files)} files; import at most {MAX_FOLDER_FILES} at a time")
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_STORED) as archive:
        for path in files:
            archive.write(path, path.relative_to(folder).as_posix())


def _archive(source: Path, scratch: Path) -> Path:
    """`source` itself when a zip; a folder zipped as it is laid out."""
    if not source.exists():
        raise BadArgument(f"{source}: no such file or folder")
    if not source.is_dir():
        return source
    archive = scratch / f"{source.name or 'dataset'}.zip"
    _zip_folder(source, archive)
    return archive


@datasets_app.command("import")
@plain_errors
def import_dataset(
    source: Annotated[Path, typer.Argument(help="A zip, or a folder: one sub-folder of photos per class (or COCO's).")],
    into: Annotated[str | None, typer.Option("--into", help="Add to this dataset (owner/slug or id).")] = None,
    name: Annotated[
        str | None, typer.Option(help="Create a dataset of this name (default: the source's name).")
    ] = None,
    visibility: Annotated[str, typer.Option(help="Of a new dataset: private or public.")] = "private",
    coco: Annotated[bool, typer.Option("--coco", help="SOURCE is COCO: annotations.json and images/.")] = False,
) -> None:
    """Import photos into a dataset, a new one unless --into names one; classes are created as needed."""
    if coco and into:
        raise BadArgument("a COCO import makes a new dataset: leave out --into (use --name)")
    with connect() as commons, tempfile.TemporaryDirectory(prefix="commons-import-") as scratch:
        archive = _archive(source, Path(scratch))
        if coco:
            answer = commons.import_coco(archive, name=name or source.stem, visibility=visibility)
            summary = f"{answer['added']} added, {answer['labelled']} labelled, {len(answer['classes'])} class(es)"
        else:
            target = into or commons.create_dataset(name or source.stem, visibility=visibility)["ref"]
            answer = commons.import_dataset(target, archive)
            created = len(answer["classes_created"])
            summary = f"{answer['added']} added, {answer['existing']} already there, {created} class(es) created"
    dataset = answer["dataset"]
    say(f"imported into {dataset['ref']}: {summary}; {dataset['item_count']} photos in all")
    typer.echo(dataset["ref"])


@datasets_app.command("export")
@plain_errors
def export_dataset(
    dataset: Annotated[str, typer.Argument(help="owner/slug or id.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="The zip to write (default ./<slug>.zip).")] = None,
    coco: Annotated[bool, typer.Option("--coco", help="COCO: annotations.json and images/.")] = False,
) -> None:
    """Download a dataset as a zip: one folder per class (unlabelled photos under _unlabelled/), or COCO."""
    slug = dataset.rstrip("/").rsplit("/", 1)[-1]
    target = out or Path(f"{slug}-coco.zip" if coco else f"{slug}.zip")
    with connect() as commons:
        written = commons.export_dataset(dataset, target, coco=coco)
    say(f"wrote {written} ({written.stat().st_size} bytes)")
    typer.echo(str(written))
