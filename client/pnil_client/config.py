"""Where the CLI keeps `pnil login`'s URL and key: a user config file readable only by its owner."""

from __future__ import annotations

import json
import os
from pathlib import Path


def config_path() -> Path:
    """PNIL_CONFIG, else $XDG_CONFIG_HOME/pnil/config.json, else ~/.config/pnil/config.json."""
    if os.environ.get("PNIL_CONFIG"):
        return Path(os.environ["PNIL_CONFIG"])
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "pnil" / "config.json"


def load() -> dict[str, str]:
    """The saved settings; {} when there are none or the file is unreadable."""
    try:
        data = json.loads(config_path().read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return {k: v for k, v in data.items() if isinstance(v, str)} if isinstance(data, dict) else {}


def save(settings: dict[str, str]) -> Path:
    """Write the settings with mode 0600 (created so, never world-readable even for a moment)."""
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump(settings, out, indent=2)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
    return path


def local_server_path() -> Path:
    """Where `make run` writes down the server it started: $XDG_CONFIG_HOME/pnil/local-server.json
    (else ~/.config/pnil/local-server.json)."""
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "pnil" / "local-server.json"


def local_server_url() -> str | None:
    """The URL of the server `make run` started, while the process that wrote it still runs."""
    try:
        data = json.loads(local_server_path().read_text(encoding="utf-8"))
        pid, url = int(data["pid"]), str(data["url"])
        os.kill(pid, 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return url
