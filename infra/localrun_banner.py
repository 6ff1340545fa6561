"""`make run`'s last start-up words: one block once the API answers healthy, and the file that
tells the `pnil` CLI on this machine where that server is (removed when the run stops)."""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
from pathlib import Path

from infra.settings import anonymous_chosen, local_dir


def server_file(env: dict[str, str]) -> Path:
    """$XDG_CONFIG_HOME/pnil/local-server.json (else ~/.config/...): where the CLI looks for it."""
    base = env.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "pnil" / "local-server.json"


_written: list[Path] = []


def announce_when_healthy(env: dict[str, str], timeout_s: float = 300.0) -> threading.Thread:
    """In the background: wait for GET /health, then write the server file and print the block."""
    url = f"http://127.0.0.1:{env['PORT']}"
    thread = threading.Thread(target=_announce, args=(env, url, timeout_s), daemon=True, name="banner")
    thread.start()
    return thread


def _announce(env: dict[str, str], url: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while not _healthy(url):
        if time.monotonic() > deadline:
            return
        time.sleep(0.5)
    path = server_file(env)
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        path.write_text(json.dumps({"url": url, "pid": os.getpid()}), encoding="utf-8")
        _written.append(path)
    except OSError:
        pass  # the CLI still finds it through PNIL_URL, printed below
    anonymous = bool(anonymous_chosen(env))
    lines = [
        "",
        "==> pnil is up",
        f"    console   {url}/console",
        f"    API docs  {url}/docs",
        "    access    " + ("anonymous (tenant 'default'), no key needed" if anonymous else "an API key"),
        f"    admin key {local_dir(env, Path(__file__).resolve().parent.parent) / 'admin-key'}",
        f"    CLI       export PNIL_URL={url}   (the pnil CLI here also finds it by itself)",
        "    stop      Ctrl-C",
        "",
    ]
    print("\n".join(lines), flush=True)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
            return resp.status == 200
    except OSError:
        return False


def forget_server() -> None:
    """Remove the server file this run wrote (the CLI also ignores it once this process is gone)."""
    for path in _written:
        path.unlink(missing_ok=True)
