"""`pnil`: deploy, run and inspect functions from a terminal.

Settings come from flags, else PNIL_URL / PNIL_API_KEY, else the file `pnil login` wrote, else
the server `make run` started on this machine (the file it writes), else http://127.0.0.1:8080.
Exit codes: 0 success; 1 the function failed (compile error, FAILED/TIMEOUT execution);
2 usage error; 3 pnil refused the request (the message says why); 4 pnil could not be reached.
"""

from __future__ import annotations

import click

from pnil_client.cli import admin, deploy, functions, lifecycle, project, runs, secrets, workflows
from pnil_client.cli.context import State


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--url", envvar="PNIL_URL", help="pnil's address (default: saved by login, else the local `make run`)"
)
@click.option("--api-key", envvar="PNIL_API_KEY", help="an API key (default: saved by login)")
@click.option("--json", "as_json", is_flag=True, help="print JSON for scripts instead of tables")
@click.pass_context
def cli(ctx: click.Context, url: str | None, api_key: str | None, as_json: bool) -> None:
    """Deploy, run and inspect pnil functions."""
    ctx.obj = State(url=url, api_key=api_key, as_json=as_json)


for module in (deploy, functions, lifecycle, runs, project, secrets, workflows, admin):
    for command in module.COMMANDS:
        cli.add_command(command)


def main() -> None:
    cli(prog_name="pnil")
