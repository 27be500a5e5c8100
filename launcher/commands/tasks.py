"""`commons run` and `commons reproduce`: submit, follow with a progress bar, download the outputs to a folder."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn

from launcher.commands.common import FAILED, connect, plain_errors, print_json, say
from launcher.sdk import Commons, Outputs
from launcher.sdk.arguments import params_from_pairs, params_object

OnUpdate = Callable[[dict[str, Any]], None]
INTERRUPTED = 130  # the shell's code for Ctrl-C


def _step(task: dict[str, Any]) -> str:
    """The step running now, else the last one that ran."""
    steps = task.get("steps") or []
    running = [s["name"] for s in steps if s.get("status") == "running"]
    done = [s["name"] for s in steps if s.get("status") not in {None, "pending"}]
    return (running or done or [""])[-1]


@contextlib.contextmanager
def progress_bar(*, quiet: bool) -> Iterator[OnUpdate]:
    """A bar on stderr that follows the task's status, step and progress; `on_update` feeds it."""
    if quiet:
        yield lambda _task: None
        return
    console = Console(stderr=True)
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TaskProgressColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        row = bar.add_task("submitted", total=100)

        def on_update(task: dict[str, Any]) -> None:
            step = _step(task)
            label = f"task {task['id'][:8]} {task['status']}" + (f" · {step}" if step else "")
            bar.update(row, description=label, completed=round(100 * float(task.get("progress") or 0)))

        yield on_update


def _report(outputs: Outputs, *, as_json: bool) -> None:
    if as_json:
        print_json(
            {
                "task": outputs.task_id,
                "status": outputs.task["status"],
                "folder": str(outputs.folder),
                "files": [str(path) for path in outputs.files],
                "withheld": outputs.withheld,
            }
        )
        return
    say(f"task {outputs.task_id} succeeded; {len(outputs.files)} file(s) in {outputs.folder}/")
    for path in outputs.files:
        say(f"  {path.relative_to(outputs.folder)}  ({path.stat().st_size} bytes)")
    for name, why in outputs.withheld.items():
        say(f"  {name}: not downloaded ({why})")
    typer.echo(str(outputs.folder))


def _params(pairs: list[str], params_json: str | None) -> dict[str, Any]:
    return params_from_pairs(pairs, params_object(params_json) if params_json else None)


@plain_errors
def run(
    resource: Annotated[str, typer.Argument(metavar="RESOURCE[:VERSION]", help="owner/name, with :N or :latest.")],
    mode: Annotated[str, typer.Option(help="infer, train, evaluate, export, inspect, edit, embed.")] = "infer",
    inputs: Annotated[
        list[Path] | None, typer.Option("--input", "-i", help="A photo to upload; repeat for more.", dir_okay=False)
    ] = None,
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="KEY=VALUE (JSON values; a.b=1 nests).")
    ] = None,
    params_json: Annotated[str | None, typer.Option("--params", help="All parameters as one JSON object.")] = None,
    dataset: Annotated[str | None, typer.Option(help="owner/slug of a dataset (train, evaluate, export).")] = None,
    lane: Annotated[str, typer.Option(help="auto, warm or batch.")] = "auto",
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Folder for the outputs (default ./task-<id>).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the task, folder and files as JSON.")] = False,
) -> None:
    """Upload the inputs, submit a task, follow it, and download its outputs and manifest.json to a folder.

    Example: commons run alice/sam:1 --input photo.jpg --param mode=auto --param auto.points_per_side=8 -o masks
    """
    params = _params(param or [], params_json)
    with connect() as commons:
        task = commons.submit(resource, mode=mode, inputs=inputs or [], params=params, dataset=dataset, lane=lane)
        _follow_and_fetch(commons, task, out=out, quiet=quiet, as_json=as_json)


def _follow_and_fetch(
    commons: Commons, task: dict[str, Any], *, out: Path | None, quiet: bool, as_json: bool
) -> Outputs:
    """After a submission was accepted: the bar while the task runs, then its outputs (or why it failed)."""
    if not (quiet or as_json):
        say(f"task {task['id']} submitted; following it (Ctrl-C stops following, not the task)")
    try:
        with progress_bar(quiet=quiet or as_json) as on_update:
            ended = commons.follow(task["id"], on_update=on_update)
    except KeyboardInterrupt:
        say(f"stopped following task {task['id']}; it keeps running: `commons follow {task['id']}` picks it up")
        raise typer.Exit(code=INTERRUPTED) from None
    return _finish(commons, ended, out=out, as_json=as_json)


def _finish(commons: Commons, ended: dict[str, Any], *, out: Path | None, as_json: bool) -> Outputs:
    if ended["status"] != "succeeded":
        if as_json:
            print_json({"task": ended["id"], "status": ended["status"], "error": ended.get("error")})
        raise typer.Exit(code=_failed(ended))
    outputs = commons.outputs(ended, out)
    _report(outputs, as_json=as_json)
    return outputs


def _failed(task: dict[str, Any]) -> int:
    say(f"error: task {task['id']} {task['status']}: {task.get('error') or 'no reason was recorded'}")
    return FAILED


@plain_errors
def reproduce(
    task_id: Annotated[str, typer.Argument(metavar="TASK", help="The id of a succeeded task.")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Folder for the re-run's outputs.")] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the task, folder and files as JSON.")] = False,
) -> None:
    """Run a succeeded task again (same version digest, inputs, parameters and seed), download the re-run's
    outputs with reproduction.json, and say whether it matched; exit code 1 when it did not."""
    with connect() as commons:
        task = commons._post(f"/tasks/{task_id}/reproduce")
        outputs = _follow_and_fetch(commons, task, out=out, quiet=quiet, as_json=as_json)
    report = outputs.report
    if report is None:
        return
    say(f"reproduction {'PASSED' if report.get('pass') else 'FAILED'}: {report.get('summary', '')}")
    if not report.get("pass"):
        raise typer.Exit(code=FAILED)


@plain_errors
def follow(
    task_id: Annotated[str, typer.Argument(metavar="TASK", help="The id of a task of yours.")],
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="Folder for the outputs (default ./task-<id>).")
    ] = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the task, folder and files as JSON.")] = False,
) -> None:
    """Follow a task submitted before (by `commons run`, the web page or a script) and download its outputs."""
    with connect() as commons:
        _follow_and_fetch(commons, commons.task(task_id), out=out, quiet=quiet, as_json=as_json)
