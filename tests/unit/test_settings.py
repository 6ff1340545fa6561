"""Settings from the environment: anonymous access is off unless asked for."""

from __future__ import annotations

import ast
import dataclasses
import re
from pathlib import Path

import pytest

from infra.settings import MIB, Settings, local_run_log_format, log_format_from, worker_concurrency_from

URL = "postgresql://pnil@db.example:5432/pnil"
ROOT = Path(__file__).resolve().parents[2]


def test_anonymous_access_is_off_without_the_variable():
    settings = Settings.from_env({"DATABASE_URL": URL})
    assert settings.allow_anonymous is False
    assert Settings(database_url=URL).allow_anonymous is False


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", True), ("true", True), ("ON", True), ("0", False), ("false", False), ("", False), ("nope", False)],
)
def test_anonymous_access_flag(value, expected):
    settings = Settings.from_env({"DATABASE_URL": URL, "PNIL_ALLOW_ANONYMOUS": value})
    assert settings.allow_anonymous is expected


def test_production_configuration_leaves_anonymous_access_off():
    for name in ("Procfile", "gunicorn.conf.py"):
        text = (ROOT / name).read_text()
        assert "PNIL_ALLOW_ANONYMOUS" not in text, f"{name} must not turn anonymous access on"


def test_defaults_and_overrides():
    settings = Settings.from_env(
        {"DATABASE_URL": f"  {URL} ", "PNIL_MAX_BODY_BYTES": "1000", "PNIL_LOG_LEVEL": "debug"}
    )
    assert settings.database_url == URL
    assert settings.max_body_bytes == 1000
    assert settings.max_source_bytes == 1 * MIB
    assert settings.log_level == "DEBUG"


def test_the_compiler_starts_warm_unless_told_not_to():
    assert Settings.from_env({"DATABASE_URL": URL}).compiler_warm_start is True
    assert (
        Settings.from_env({"DATABASE_URL": URL, "PNIL_COMPILER_WARM_START": "0"}).compiler_warm_start is False
    )


def test_missing_database_url_says_what_to_do():
    with pytest.raises(RuntimeError, match="make run"):
        Settings.from_env({})


def test_a_non_integer_says_which_variable():
    with pytest.raises(ValueError, match="PNIL_MAX_BODY_BYTES"):
        Settings.from_env({"DATABASE_URL": URL, "PNIL_MAX_BODY_BYTES": "2MB"})


def test_settings_are_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        Settings(database_url=URL).allow_anonymous = True  # type: ignore[misc]


def test_quotas_and_retention_have_defaults_and_take_positive_overrides():
    defaults = Settings.from_env({"DATABASE_URL": "postgresql://x"})
    assert (defaults.retention.execution_days, defaults.retention.event_days) == (30, 7)
    assert defaults.retention.versions_kept == 100 and defaults.quotas.pending_executions == 10_000

    tuned = Settings.from_env(
        {"DATABASE_URL": "postgresql://x", "PNIL_EXECUTION_RETENTION_DAYS": "90", "PNIL_QUOTA_FUNCTIONS": "5"}
    )
    assert tuned.retention.execution_days == 90 and tuned.quotas.functions == 5
    with pytest.raises(ValueError, match="PNIL_QUOTA_KV_KEYS"):
        Settings.from_env({"DATABASE_URL": "postgresql://x", "PNIL_QUOTA_KV_KEYS": "0"})


# -- one home per setting ------------------------------------------------------------------------
NAME = re.compile(r"PNIL_[A-Z0-9_<>]+")
# Not the server's: the SDK/CLI (its own variables), and tests and benchmarks, which set variables
# for the processes they start.
NOT_SERVER = {"tests", "client", "bench", "node_modules", ".venv", ".cache", ".git", ".pgdata", ".pnil"}


def _variables_named_in(path: Path) -> set[str]:
    """The PNIL_* names a module's code uses as string literals (f"PNIL_{x}_Y" gives PNIL_<NAME>_Y);
    prose that mentions a variable (a docstring, a message) is not a name."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.JoinedStr):
            text = "".join(p.value if isinstance(p, ast.Constant) else "<NAME>" for p in node.values)
            if NAME.fullmatch(text):
                names.add(text)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and NAME.fullmatch(node.value):
            names.add(node.value)
    return names


def _server_modules() -> list[Path]:
    return [path for path in ROOT.rglob("*.py") if not NOT_SERVER.intersection(path.relative_to(ROOT).parts)]


def _readme_table() -> set[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("\n## Configuration\n", 1)[1].split("\n## ", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    return {name for row in rows for name in NAME.findall(row.split("|")[1])}


def test_the_name_finder_sees_reads_and_ignores_prose(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        '"""Set PNIL_A to tune it."""\nimport os\n'
        'a = os.environ.get("PNIL_B")\nb = os.environ[f"PNIL_{n}_C"]\nc = "say PNIL_D=1"\n'
    )
    assert _variables_named_in(module) == {"PNIL_B", "PNIL_<NAME>_C"}


def test_every_pnil_variable_of_the_server_is_read_in_infra_settings_only():
    # given every module of the server but the settings module, expect none naming a PNIL_ variable
    elsewhere = {
        str(path.relative_to(ROOT)): names
        for path in _server_modules()
        if path != ROOT / "infra" / "settings.py" and (names := _variables_named_in(path))
    }
    assert elsewhere == {}


def test_the_readme_settings_table_lists_exactly_the_variables_read():
    # given the variables infra/settings.py reads and those the SDK/CLI (client/) read
    server = _variables_named_in(ROOT / "infra" / "settings.py")
    client = set().union(*(_variables_named_in(p) for p in (ROOT / "client").rglob("*.py")))
    assert {"PNIL_ALLOW_ANONYMOUS", "PNIL_<NAME>_CONCURRENCY"} <= server and "PNIL_URL" in client

    # expect the README's configuration table to list those and no others
    assert _readme_table() == server | client


def test_readme_process_commands_match_the_procfile():
    procfile = dict(
        line.split(": ", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip()
    )
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rows = {m[1]: m[2] for m in re.finditer(r"^\| `(\w+)` \| `([^`]+)` \|", readme, re.MULTILINE)}
    assert {name: rows.get(name) for name in procfile} == procfile


def test_worker_threads_come_from_the_named_setting_then_the_general_one():
    assert worker_concurrency_from({}, "executor", 4) == 4
    assert worker_concurrency_from({"PNIL_CONCURRENCY": "2"}, "executor", 4) == 2
    env = {"PNIL_CONCURRENCY": "2", "PNIL_EXECUTOR_CONCURRENCY": "7"}
    assert worker_concurrency_from(env, "executor", 4) == 7
    assert worker_concurrency_from({"PNIL_EXECUTOR_CONCURRENCY": "7"}, None, 1) == 1


def test_make_run_logs_readable_lines_unless_told_otherwise():
    assert local_run_log_format({}) == "console"
    assert local_run_log_format({"PNIL_LOG_FORMAT": "JSON"}) == "json"
    assert log_format_from({}) == "json"


def test_event_depth_and_artifact_retention_are_settings():
    settings = Settings.from_env(
        {"DATABASE_URL": URL, "PNIL_MAX_EVENT_DEPTH": "3", "PNIL_ARTIFACT_RETENTION_S": "60"}
    )
    assert (settings.max_event_depth, settings.retention.artifact_retention_s) == (3, 60)
    defaults = Settings.from_env({"DATABASE_URL": URL})
    assert (defaults.max_event_depth, defaults.retention.artifact_retention_s) == (8, 30 * 24 * 3600)
