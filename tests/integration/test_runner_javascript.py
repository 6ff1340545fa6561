"""JavaScript functions in QuickJS-NG on real wasmtime: results, limits, isolation, checks."""

from __future__ import annotations

import json
import stat
import time
from pathlib import Path

import pytest

from runner.contract import Language, Limits, RunRequest, RunStatus
from runner.engine import make_engine
from runner.javascript.runner import JavaScriptCompileError, JavaScriptRunner, check_javascript

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "javascript"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def engine():
    return make_engine()


@pytest.fixture(scope="module")
def js(engine):
    """Runs a source (or a fixture name) with an input object and optional limits."""
    runner = JavaScriptRunner(engine)

    def run(source: str, input_value=None, **limits):
        if source.endswith(".js"):
            source = (FIXTURES / source).read_text()
        request = RunRequest(
            language=Language.JAVASCRIPT,
            artifact=source.encode(),
            input_json=json.dumps({} if input_value is None else input_value),
            limits=Limits(**limits),
        )
        return runner.run(request)

    return run


def test_add_returns_the_sum_as_json_and_quickjs_memory_is_measured(js):
    result = js("add.js", {"a": 2, "b": 40})

    assert result.status is RunStatus.COMPLETED
    assert json.loads(result.output_json) == {"sum": 42}
    assert result.error_message is None
    assert result.duration_ms > 0
    assert result.memory_peak_bytes >= 2 * MIB  # QuickJS's initial linear memory


def test_async_handle_is_awaited_including_timers(js):
    result = js("async_greet.js", {"name": "Ada"})

    assert result.status is RunStatus.COMPLETED
    assert json.loads(result.output_json) == {"greeting": "hello, Ada"}


def test_handle_declared_as_const_arrow_function_works(js):
    result = js("const handle = (input) => input.n * 2;", {"n": 21})

    assert result.status is RunStatus.COMPLETED
    assert result.output_json == "42"


def test_thrown_error_fails_with_message_and_stack(js):
    source = "function handle(input) {\n  throw new TypeError('bad input: ' + input.x);\n}"

    result = js(source, {"x": 7})

    assert result.status is RunStatus.FAILED
    assert result.error_message.startswith("TypeError: bad input: 7")
    assert "at handle (<input>:2:" in result.error_message
    assert "<cmdline>" not in result.error_message  # the wrapper's frames are hidden


def test_console_output_is_captured_into_logs(js):
    source = (
        "function handle(input) {\n"
        "  console.log('hello', 42, {a: [1]});\n"
        "  console.error('went wrong');\n"
        "  return null;\n"
        "}"
    )

    result = js(source)

    assert result.status is RunStatus.COMPLETED
    assert result.output_json == "null"
    assert result.logs == 'hello 42 {"a":[1]}\nwent wrong'


def test_never_settling_timer_times_out_instead_of_sleeping(js):
    source = "async function handle() { await new Promise(r => setTimeout(r, 600000)); }"
    started = time.monotonic()

    result = js(source, max_execution_time_ms=300)

    assert result.status is RunStatus.TIMEOUT
    assert time.monotonic() - started < 2.0


def test_moderate_recursion_still_works(js):
    source = "function handle(i) { const f = (n) => n === 0 ? 0 : 1 + f(n - 1); return f(i.n); }"

    result = js(source, {"n": 200})

    assert result.status is RunStatus.COMPLETED
    assert result.output_json == "200"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("return undefined;", "handle returned undefined"),
        ("return () => 1;", "handle returned a function"),
        ("return 10n;", "BigInt"),
        ("const a = {}; a.self = a; return a;", "circular"),
    ],
)
def test_non_json_results_fail_clearly(js, body, expected):
    result = js(f"function handle() {{ {body} }}")

    assert result.status is RunStatus.FAILED
    assert expected in result.error_message


def test_no_host_access_from_javascript(js):
    source = """
    async function handle() {
      const std = await import('qjs:std');
      const os = await import('qjs:os');
      return {
        globals: [typeof globalThis.std, typeof globalThis.os],
        passwd: std.open('/etc/passwd', 'r') === null,
        home: std.getenv('HOME') ?? null,
        root: os.readdir('/')[1] !== 0,
      };
    }"""

    result = js(source)

    assert result.status is RunStatus.COMPLETED, result.error_message
    assert json.loads(result.output_json) == {
        "globals": ["undefined", "undefined"],
        "passwd": True,
        "home": None,
        "root": True,
    }


def test_exit_from_javascript_fails_the_run(js):
    result = js("async function handle() { (await import('qjs:std')).exit(3); }")

    assert result.status is RunStatus.FAILED
    assert "exit(3)" in result.error_message


def test_check_returns_the_source_as_artifact(engine):
    source = (FIXTURES / "add.js").read_text()

    assert check_javascript(source, engine) == source.encode()


def test_check_reports_syntax_error_with_line_and_column(engine):
    source = "function handle(input) {\n  const x = 1;\n  return (x +);\n}"

    with pytest.raises(JavaScriptCompileError) as caught:
        check_javascript(source, engine)

    assert str(caught.value).startswith("SyntaxError: ")
    assert str(caught.value).endswith("at line 3, column 14")


def test_check_reports_unclosed_brace_at_end_of_input(engine):
    with pytest.raises(JavaScriptCompileError, match="end of input at line 2"):
        check_javascript("function handle(input) {\n  return 1;", engine)


def test_check_rejects_source_without_handle(engine):
    with pytest.raises(JavaScriptCompileError, match="no handle function defined"):
        check_javascript("function main(input) { return 1; }", engine)


def test_check_rejects_throwing_top_level_code(engine):
    with pytest.raises(JavaScriptCompileError, match="ReferenceError: nope is not defined"):
        check_javascript("nope();\nfunction handle() {}", engine)


@pytest.mark.parametrize(
    "source", ["export function handle(i) { return i; }", 'import x from "y";\nfunction handle(i) {}']
)
def test_check_says_a_function_is_a_script_not_a_module(engine, source):
    with pytest.raises(JavaScriptCompileError, match="a script, not a module"):
        check_javascript(source, engine)


def test_check_of_endless_top_level_code_says_where_the_work_belongs(engine):
    with pytest.raises(JavaScriptCompileError, match="compile check's 2000 ms; do the work inside handle"):
        check_javascript("function handle(i) { return i; }\nwhile (true) {}", engine)


def test_missing_handle_at_run_time_fails(js):
    result = js("function main() { return 1; }")

    assert result.status is RunStatus.FAILED
    assert result.error_message.startswith("no handle function defined")


def test_compiled_reactor_is_cached_on_disk_privately(tmp_path):
    cache = tmp_path / "cache"

    JavaScriptRunner(make_engine(), cache_dir=cache)
    files = list(cache.glob("qjs-*.cwasm"))
    restored = JavaScriptRunner(make_engine(), cache_dir=cache)  # deserializes that file
    result = restored.run(
        RunRequest(
            language=Language.JAVASCRIPT,
            artifact=b"function handle(i) { return i.v; }",
            input_json='{"v": "ok"}',
        )
    )

    assert len(files) == 1
    assert stat.S_IMODE(cache.stat().st_mode) == 0o700
    assert result.output_json == '"ok"'


def test_javascript_runs_through_the_pool():
    from runner.sandbox.pool import RunnerPool

    request = RunRequest(
        language=Language.JAVASCRIPT,
        artifact=(FIXTURES / "add.js").read_bytes(),
        input_json='{"a": 1, "b": 2}',
    )
    with RunnerPool(1) as pool:
        result = pool.run(request)

    assert result.status is RunStatus.COMPLETED
    assert json.loads(result.output_json) == {"sum": 3}


def test_input_too_large_for_the_memory_limit_fails_cleanly(js):
    result = js("echo.js", {"blob": "x" * (6 * MIB)}, max_memory_bytes=5 * MIB)

    assert result.status is RunStatus.FAILED
    assert "maxMemoryBytes" in result.error_message
