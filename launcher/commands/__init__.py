"""The `commons` commands for scripts and people at a terminal, on the Python SDK (`launcher/sdk/`): login,
resources, run, follow, reproduce, datasets. `register` adds them to the `commons` command of `launcher/cli.py`."""

from __future__ import annotations

import typer

from launcher.commands import account, tasks
from launcher.commands.datasets import datasets_app
from launcher.commands.resources import resources_app


def register(app: typer.Typer) -> None:
    app.command()(account.login)
    app.command()(account.logout)
    app.command()(account.whoami)
    app.command()(tasks.run)
    app.command()(tasks.reproduce)
    app.command()(tasks.follow)
    app.add_typer(resources_app, name="resources")
    app.add_typer(datasets_app, name="datasets")
