"""What every command shares: the client from the resolved settings, output, and exit codes."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field, is_dataclass
from functools import wraps
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pnil_client import config
from pnil_client.client import DEFAULT_URL, Client
from pnil_client.errors import CompileFailed, ConnectionFailed, PnilError

EXIT_FUNCTION_FAILED = 1
EXIT_REFUSED = 3
EXIT_UNREACHABLE = 4

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


@dataclass
class State:
    url: str | None
    api_key: str | None
    as_json: bool
    _client: Client | None = field(default=None, repr=False)

    def settings(self) -> tuple[str, str | None]:
        saved = config.load()
        url = self.url or saved.get("url") or config.local_server_url() or DEFAULT_URL
        return url, self.api_key or saved.get("api_key")

    @property
    def client(self) -> Client:
        if self._client is None:
            url, key = self.settings()
            self._client = Client(url, key)
        return self._client

    def emit(self, data: Any, human: Callable[[], None]) -> None:
        """JSON of `data` with --json, else whatever `human` prints."""
        if self.as_json:
            click.echo(json.dumps(plain(data), indent=2, ensure_ascii=False))
        else:
            human()


def plain(data: Any) -> Any:
    """Models → their server JSON; lists and dicts recursively."""
    if hasattr(data, "raw"):
        return data.raw
    if is_dataclass(data):
        return asdict(data)
    if isinstance(data, list):
        return [plain(d) for d in data]
    if isinstance(data, dict):
        return {k: plain(v) for k, v in data.items()}
    return data


def table(columns: Iterable[str], rows: Iterable[Iterable[Any]]) -> None:
    """Aligned columns on a terminal; piped or redirected, tab-separated lines with every value
    whole (nothing cut to a width, no padding)."""
    if not out.is_terminal:
        for row in (columns, *rows):
            click.echo("\t".join("" if v is None else str(v) for v in row))
        return
    grid = Table(*columns, box=None, pad_edge=False, header_style="bold")
    for row in rows:
        grid.add_row(*("" if v is None else str(v) for v in row))
    out.print(grid)


def handle_errors(command: Callable) -> Callable:
    """Turn SDK errors into a message on stderr and the documented exit code."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except CompileFailed:
            raise
        except ConnectionFailed as exc:
            err.print(f"[red]error:[/red] {escape(exc.message)}")
            err.print("Is pnil running? Start it with `make run`, or pass --url.", markup=False)
            sys.exit(EXIT_UNREACHABLE)
        except PnilError as exc:
            detail = f"\n{json.dumps(exc.errors, indent=2)}" if exc.errors else ""
            err.print(f"[red]error ({exc.status}):[/red] {escape(exc.message + detail)}")
            sys.exit(EXIT_REFUSED)

    return wrapper


def pass_state(command: Callable) -> Callable:
    """click.pass_obj plus error handling."""
    return click.pass_obj(handle_errors(command))
