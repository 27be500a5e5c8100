"""The `commons` command: start the embedded stack, manage users, run the demo; the commands for scripts (login,
resources, run, reproduce, datasets) are in `launcher/commands/`."""

from __future__ import annotations

import getpass
import signal
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from commons.db import session_scope
from commons.errors import CommonsError
from commons.settings import Settings

if TYPE_CHECKING:
    from launcher.stack import Child, Stack
    from launcher.supervisor import Supervisor

app = typer.Typer(help="Model Commons: publish models, run reproducible tasks on them.", no_args_is_help=True)
user_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
app.add_typer(user_app, name="user")


def _settings(data_dir: Path | None, port: int | None) -> Settings:
    overrides: dict[str, Any] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if port is not None:
        overrides["api_port"] = port
    return Settings(**overrides)


@app.command()
def up(
    data_dir: Annotated[
        Path | None, typer.Option(help="Folder for all state (default COMMONS_DATA_DIR or .data).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="API port (default COMMONS_API_PORT or 8000).")] = None,
    demo: Annotated[bool, typer.Option(help="Register the demo SAM resource and run one task.")] = False,
) -> None:
    """Start the object store, Prefect server, a worker and the API on 127.0.0.1; Ctrl-C stops them all."""
    from launcher.stack import Stack

    settings = _settings(data_dir, port)
    development_secrets = settings.development_secrets_in_use()
    if development_secrets and not settings.listens_on_loopback:
        typer.echo(
            f"error: refusing to listen on {settings.host} with the development secrets: anyone who can reach it "
            f"{_development_risks(development_secrets)}. Set {', '.join(development_secrets)} to secrets of your "
            "own, or leave COMMONS_HOST at 127.0.0.1.",
            err=True,
        )
        raise typer.Exit(code=2)
    if development_secrets:
        print(_development_secrets_warning(development_secrets), flush=True)
    stack = Stack(settings)
    stopping = False

    def request_stop(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)
    try:
        stack.start(progress=lambda line: print(f"· {line}", flush=True))
        _print_addresses(settings, development_secrets=bool(development_secrets))
        if demo:
            _print_demo(settings)
        print("Press Ctrl-C to stop.", flush=True)
        supervisor = _supervisor(stack)
        while not stopping:
            supervisor.check()  # a child that died is restarted alone; the others keep running
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping every service …", flush=True)
        stack.stop()
    print("stopped.", flush=True)


def _print_addresses(settings: Settings, *, development_secrets: bool) -> None:
    """What `commons up` started, and where: the page, the docs, health, Prefect's UI, the object store."""
    prefect_ui = settings.resolved_prefect_api_url.removesuffix("/api")
    print(
        f"\nModel Commons is up (data in {settings.data_dir.resolve()})\n"
        f"  web page      {settings.api_url}/\n"
        f"  API docs      {settings.api_url}/docs\n"
        f"  health        {settings.api_url}/api/v1/health\n"
        f"  Prefect UI    {prefect_ui}\n"
        f"  object store  http://{settings.resolved_s3_endpoint} (bucket {settings.s3_bucket})\n"
        + (
            "  secrets       DEVELOPMENT defaults, loopback only (see the warning above)\n"
            if development_secrets
            else ""
        ),
        flush=True,
    )


def _supervisor(stack: Stack) -> Supervisor:
    """Restarts dead children; a dead warm worker's tasks are failed (with why) before it comes back."""
    from launcher.supervisor import WARM_WORKER_PREFIX, Supervisor
    from services.warm_recovery import recover_warm_worker

    def on_death(child: Child, returncode: int) -> None:
        if child.name.startswith(WARM_WORKER_PREFIX):
            failed = recover_warm_worker(stack.settings, pid=child.process.pid, returncode=returncode)
            if failed:
                print(f"{child.name} was running task(s) {', '.join(failed)}: failed, with the reason", flush=True)

    return Supervisor(stack, say=lambda line: print(line, flush=True), on_death=on_death)


def _development_risks(names: list[str]) -> str:
    risks = []
    if "COMMONS_SECRET_KEY" in names:
        risks.append("can sign a token the API accepts as any user's, an administrator's included")
    if "COMMONS_S3_SECRET_KEY" in names:
        risks.append("can read and overwrite every object with the default S3 keys")
    return ", and ".join(risks)


def _development_secrets_warning(names: list[str]) -> str:
    return (
        f"WARNING: development secrets in use: {', '.join(names)} hold the published defaults.\n"
        f"  Anyone who reaches this stack {_development_risks(names)}.\n"
        "  Fine on 127.0.0.1 for development; set them to secrets of your own before the stack listens\n"
        "  anywhere else (commons up refuses a non-loopback COMMONS_HOST with them; production refuses them).\n"
    )


def _print_demo(settings: Settings) -> None:
    from launcher.demo import run_demo

    print("Demo: SAM (tiny config, UNTRAINED random weights) on skimage's coffee photo", flush=True)
    task = run_demo(settings.api_url, data_dir=settings.data_dir.resolve())
    print(f"\nTask {task['id']}: {task['status']}" + (f" — {task['error']}" if task["error"] else ""))
    for output in task["outputs"]:
        print(f"  {output['name']:<28} {output['size']:>9} bytes  {output['url']}")
    if task["manifest_url"]:
        print(f"  manifest.json: {task['manifest_url']}")
    print(flush=True)


@user_app.command("create")
def create_user_command(
    username: str,
    admin: Annotated[bool, typer.Option("--admin", help="Give the user every right on every resource.")] = False,
    password: Annotated[str | None, typer.Option(help="Read from a prompt when omitted.")] = None,
    data_dir: Annotated[Path | None, typer.Option()] = None,
) -> None:
    """Create a user (the first admin, for example) directly in the database."""
    from pydantic import ValidationError

    from registry.migrate import upgrade
    from registry.schemas import UserCreate
    from registry.users import create_user

    settings = _settings(data_dir, None)
    secret = password or getpass.getpass(f"password for {username}: ")
    try:
        spec = UserCreate(username=username, password=secret)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        raise typer.BadParameter(problems) from error
    upgrade(settings.resolved_database_url)
    try:
        with session_scope(settings.resolved_database_url) as session:
            user = create_user(
                session,
                username=spec.username,
                password=spec.password,
                is_admin=admin,
                min_password_score=settings.min_password_score,
            )
            print(f"created {'admin ' if admin else ''}user {user.username} ({user.id})")
    except CommonsError as error:
        typer.echo(f"error: {error.message}", err=True)
        raise typer.Exit(code=1) from error


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Address to listen on (default COMMONS_HOST).")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default COMMONS_API_PORT).")] = None,
) -> None:
    """Serve the API alone (the API image and the Helm chart run this), with the limits `commons up` uses:
    header size, connections, keep-alive; forwarded headers only from COMMONS_TRUSTED_PROXIES."""
    import os

    from launcher.stack import BIN, uvicorn_args

    settings = Settings()
    args = uvicorn_args(settings, host=host or settings.host, port=port or settings.api_port)
    os.execv(BIN / "uvicorn", [str(BIN / "uvicorn"), *args])  # noqa: S606 - our own uvicorn; signals reach it


@app.command()
def migrate(data_dir: Annotated[Path | None, typer.Option()] = None) -> None:
    """Apply the database migrations."""
    from registry.migrate import upgrade

    settings = _settings(data_dir, None)
    upgrade(settings.resolved_database_url)
    print("database is at the latest migration")


def _register_script_commands() -> None:
    from launcher.commands import register

    register(app)


_register_script_commands()
