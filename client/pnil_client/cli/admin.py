"""Account and operator commands: login, queues, keys."""

from __future__ import annotations

import sys

import click

from pnil_client import config
from pnil_client.cli.context import State, err, pass_state, table
from pnil_client.client import Client


@click.command()
@click.option("--url", "login_url", help="pnil's address (asked for on a terminal)")
@click.option("--api-key", "login_key", help="an API key (asked for on a terminal; none for a local server)")
@pass_state
def login(state: State, login_url: str | None, login_key: str | None) -> None:
    """Check a URL and key against pnil and save them for later commands (file mode 0600).

    Without a terminal nothing is asked: the URL defaults to the one the CLI would use (PNIL_URL,
    the saved one, the local `make run`) and the key to PNIL_API_KEY or none."""
    default_url, default_key = state.settings()
    interactive = sys.stdin.isatty()
    url = login_url or (
        click.prompt("pnil URL", default=default_url, err=True) if interactive else default_url
    )
    api_key = login_key
    if api_key is None:
        api_key = (
            click.prompt(
                "API key (empty for a local server without keys)",
                default=default_key or "",
                show_default=False,
                hide_input=True,
                err=True,
            )
            if interactive
            else default_key or ""
        )
    with Client(url, api_key or None) as client:
        client.list_functions(limit=1)  # raises Unauthorized / ConnectionFailed when wrong
    saved = {"url": url} | ({"api_key": api_key} if api_key else {})
    path = config.save(saved)
    state.emit({"url": url, "config": str(path)}, lambda: err.print(f"logged in to {url}; saved to {path}"))


@click.command()
@pass_state
def queues(state: State) -> None:
    """Queue depth, in flight, oldest message age and dead letters (admin key)."""
    found = state.client.queues()
    state.emit(
        found,
        lambda: table(
            ("QUEUE", "DEPTH", "IN FLIGHT", "OLDEST (s)", "SENT", "DEAD"),
            (
                (q.queue, q.depth, q.in_flight, q.oldest_message_age_seconds, q.total_sent, q.dead_lettered)
                for q in found
            ),
        ),
    )


@click.group()
def keys() -> None:
    """Manage API keys (admin key)."""


@keys.command(name="create")
@click.argument("tenant")
@click.option("--name", help="a label for the key")
@click.option("--admin", is_flag=True, help="the key may also use the admin endpoints")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(["admin", "manage", "invoke", "read"]),
    help="admin, manage (default), invoke or read; repeatable",
)
@click.option("--function", "functions", multiple=True, help="limit an invoke key to this function id")
@click.option("--expires", help="when the key stops working (ISO 8601 with an offset)")
@pass_state
def create_key(
    state: State, tenant: str, name: str | None, admin: bool, scopes, functions, expires: str | None
) -> None:
    """Create a key for TENANT (and the tenant, if new); the key is printed only now."""
    key = state.client.create_key(
        tenant, name=name, admin=admin, scopes=list(scopes), functions=list(functions), expires_at=expires
    )
    state.emit(
        key,
        lambda: (
            err.print(f"created key {key.id} for {tenant}; it is shown only once:"),
            click.echo(key.key),
        ),
    )


@keys.command(name="ls")
@pass_state
def list_keys(state: State) -> None:
    """Every key (never the keys themselves)."""
    found = state.client.list_keys()
    state.emit(
        found,
        lambda: table(
            ("ID", "TENANT", "NAME", "SCOPES", "CREATED", "LAST USED", "EXPIRES", "REVOKED"),
            (
                (
                    k.id,
                    k.tenant,
                    k.name,
                    ",".join(k.scopes or ()),
                    k.created_at,
                    k.last_used_at,
                    k.expires_at,
                    k.revoked_at,
                )
                for k in found
            ),
        ),
    )


@keys.command(name="revoke")
@click.argument("key_id")
@pass_state
def revoke_key(state: State, key_id: str) -> None:
    """Revoke a key by its id."""
    state.client.revoke_key(key_id)
    state.emit({"revoked": key_id}, lambda: click.echo(f"revoked {key_id}"))


COMMANDS = [login, queues, keys]
