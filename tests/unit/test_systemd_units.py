"""The systemd units shipped in deploy/systemd pass `systemd-analyze verify` (where it exists)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from infra.supervisor import long_running, read_procfile

PROJECT_ROOT = Path(__file__).resolve().parents[2]
UNITS = PROJECT_ROOT / "deploy" / "systemd"


def installed_copies(tmp_path: Path) -> list[Path]:
    """The units as installed from this checkout (their /opt/pnil is the checkout)."""
    copies = []
    for unit in sorted(UNITS.glob("pnil*.*")):
        if unit.suffix in (".service", ".target"):
            copy = tmp_path / unit.name
            copy.write_text(unit.read_text().replace("/opt/pnil", str(PROJECT_ROOT)))
            copies.append(copy)
    return copies


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_units_verify(tmp_path):
    copies = installed_copies(tmp_path)
    done = subprocess.run(["systemd-analyze", "verify", *map(str, copies)], capture_output=True, text=True)
    complaints = [line for line in done.stderr.splitlines() if str(tmp_path) in line]
    assert done.returncode == 0 and complaints == [], done.stderr


def test_there_is_a_unit_per_procfile_process_running_its_command():
    for name, command in long_running(read_procfile(PROJECT_ROOT / "Procfile")).items():
        unit = (UNITS / f"pnil-{name}.service").read_text()
        assert f"ExecStart=/opt/pnil/.venv/bin/{command.replace(chr(34), '')}" in unit, name
    release = read_procfile(PROJECT_ROOT / "Procfile")["release"]
    assert f"ExecStart=/opt/pnil/.venv/bin/{release}" in (UNITS / "pnil-release.service").read_text()
