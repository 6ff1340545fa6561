"""Python functions in the CPython runtime component on real wasmtime: results, limits, escapes."""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest

from runner.contract import Language, Limits, RunRequest, RunStatus
from runner.engine import make_engine
from runner.python.runner import PythonCompileError, PythonRunner, check_python

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "python"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def runner():
    return PythonRunner(make_engine())


@pytest.fixture(scope="module", params=["instantiated-by-the-run", "prepared-while-idle"])
def py(runner, request):
    """Runs a source (or a fixture name) with an input value and optional limits, in an instance
    made by the run itself or in one the runner made while idle (as the runner subprocess does)."""
    prepared = request.param == "prepared-while-idle"

    def run(source: str, input_value=None, context=None, **limits):
        if prepared:
            runner.idle()
        if source.endswith(".py"):
            source = (FIXTURES / source).read_text()
        request = RunRequest(
            language=Language.PYTHON,
            artifact=source.encode(),
            input_json=json.dumps({} if input_value is None else input_value),
            limits=Limits(**limits),
            context_json=json.dumps(context),
        )
        return runner.run(request)

    return run


def test_add_returns_the_sum_as_json_in_a_fresh_or_a_prepared_instance(py):
    result = py("add.py", {"a": 2, "b": 40})

    assert result.status is RunStatus.COMPLETED, result.error_message
    assert json.loads(result.output_json) == {"sum": 42}
    assert result.error_message is None
    assert result.duration_ms > 0


def test_handle_gets_the_trigger_context_when_it_takes_two_arguments(py):
    context = {"executionId": "e-1", "functionId": "f-1", "version": 3, "trigger": {"type": "MANUAL"}}

    result = py(
        "def handle(input, context):\n    return [context['version'], context['trigger']]\n", {}, context
    )

    assert json.loads(result.output_json) == [3, {"type": "MANUAL"}]


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("def handle(input):\n  return (\n", "SyntaxError: '(' was never closed at line 2, column 10"),
        (
            "def handle(input):\n    return 1\n  x = 2\n",
            "IndentationError: unindent does not match any outer indentation level at line 3",
        ),
        ("def main(input):\n    return 1\n", "no handle function defined"),
        ("handle = 42\n", "no handle function defined"),
        ("raise ValueError('top')\n", "ValueError: top"),
        ("import socket\n", "ModuleNotFoundError: No module named 'socket'"),
    ],
)
def test_check_refuses_unusable_sources_with_where_and_why(source, expected):
    with pytest.raises(PythonCompileError) as raised:
        check_python(source)

    assert expected in str(raised.value)


def test_check_stops_endless_top_level_code():
    started = time.monotonic()
    with pytest.raises(PythonCompileError, match="did not finish within the compile check"):
        check_python("while True:\n    pass\n")
    assert time.monotonic() - started < 5


def test_check_returns_the_source_as_the_artifact():
    source = "def handle(input, context=None):\n    return input\n"

    assert check_python(source) == source.encode()


def test_memory_bomb_in_one_allocation_fails(py):
    result = py("def handle(input):\n    return len(bytearray(1 << 30))\n")

    assert result.status is RunStatus.FAILED
    assert "out of memory" in result.error_message


def test_runaway_recursion_fails_with_the_users_frames(py):
    result = py("def f(n):\n    return f(n + 1) + 1\n\ndef handle(input):\n    return f(0)\n")

    assert result.status is RunStatus.FAILED
    assert result.error_message.startswith("RecursionError: maximum recursion depth exceeded")
    assert 'File "function.py", line 2, in f' in result.error_message
    assert len(result.error_message) < 4000


def test_deep_native_recursion_fails_without_crashing(py):
    nested = "def handle(input):\n    v = []\n    for _ in range(200000):\n        v = [v]\n    return v\n"

    result = py(nested)

    assert result.status is RunStatus.FAILED
    assert "recursion" in result.error_message or "stack overflow" in result.error_message
    assert py("add.py", {"a": 1, "b": 2}).status is RunStatus.COMPLETED


def test_exception_fails_with_type_message_and_the_users_traceback(py):
    source = "def check(n):\n    raise ValueError(f'bad input: {n}')\n\n"
    source += "def handle(input):\n    check(input['n'])\n"

    result = py(source, {"n": 7})

    assert result.status is RunStatus.FAILED
    message = result.error_message
    assert message.startswith("ValueError: bad input: 7\nTraceback (most recent call last):")
    assert 'File "function.py", line 5, in handle' in message
    assert 'File "function.py", line 2, in check' in message
    assert "raise ValueError(f'bad input: {n}')" in message  # the user's own line
    assert "pnil_runtime" not in message  # not the runtime's frames


def test_print_and_stderr_go_to_the_logs(py):
    source = "import sys\ndef handle(input):\n    print('hello', input['n'], {'a': [1]})\n"
    source += "    print('went wrong', file=sys.stderr)\n    return True\n"

    result = py(source, {"n": 42})

    assert result.status is RunStatus.COMPLETED
    assert result.logs == "hello 42 {'a': [1]}\nwent wrong"


@pytest.mark.parametrize(
    ("value", "expected"),
    [("{1, 2}", "Object of type set is not JSON serializable"), ("float('nan')", "Out of range float")],
)
def test_output_that_is_not_json_fails_and_says_why(py, value, expected):
    result = py(f"def handle(input):\n    return {value}\n")

    assert result.status is RunStatus.FAILED
    assert "not JSON-serialisable" in result.error_message and expected in result.error_message


def test_output_with_a_lone_surrogate_is_refused(py):
    result = py("def handle(input):\n    return '\\ud800'\n")

    assert result.status is RunStatus.FAILED
    assert "surrogate" in result.error_message


def test_module_globals_do_not_survive_into_the_next_execution(py):
    source = "import json\ncount = 0\ndef handle(input):\n    global count\n    count += 1\n"
    source += "    json.marker = getattr(json, 'marker', 0) + 1\n    return [count, json.marker]\n"

    assert json.loads(py(source).output_json) == [1, 1]
    assert json.loads(py(source).output_json) == [1, 1]


def test_sys_exit_fails_with_a_hint(py):
    result = py("import sys\ndef handle(input):\n    sys.exit(3)\n")

    assert result.status is RunStatus.FAILED
    assert "sys.exit(3)" in result.error_message


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("return open('/etc/passwd').read()", "FileNotFoundError"),
        ("import os\n    return os.listdir('/')", "FileNotFoundError"),
        ("import os\n    return open('/proc/self/environ').read()", "FileNotFoundError"),
        ("import socket\n    return socket.create_connection(('1.1.1.1', 80))", "No module named 'socket'"),
        ("import urllib.request\n    return urllib.request.urlopen('http://example.com').read()", "urllib"),
        ("import subprocess\n    return subprocess.run(['ls'])", "ModuleNotFoundError"),
        ("import ctypes\n    return 1", "ModuleNotFoundError"),
    ],
)
def test_sandbox_escapes_are_refused(py, source, expected):
    result = py(f"def handle(input):\n    {source}\n")

    assert result.status is RunStatus.FAILED, result.output_json
    assert expected in result.error_message


def test_environment_and_arguments_are_empty(py):
    result = py("import os, sys\ndef handle(input):\n    return [dict(os.environ), sys.argv[1:]]\n")

    assert result.status is RunStatus.COMPLETED
    assert json.loads(result.output_json) == [{}, []]


def test_the_standard_library_modules_that_make_sense_work(py):
    source = """import json, re, datetime, math, decimal, collections, itertools, hashlib, base64
import fractions, statistics, uuid, random, functools, textwrap, urllib.parse
def handle(input):
    return {
        "re": re.findall(r"\\d+", "a1b22"),
        "date": datetime.date(2026, 11, 24).isoformat(),
        "math": math.isqrt(17),
        "decimal": str(decimal.Decimal("0.1") + decimal.Decimal("0.2")),
        "counter": collections.Counter("aab").most_common(1),
        "chain": list(itertools.chain([1], [2])),
        "sha256": hashlib.sha256(b"pnil").hexdigest()[:8],
        "b64": base64.b64encode(b"hi").decode(),
        "fraction": str(fractions.Fraction(1, 3) * 3),
        "mean": statistics.mean([1, 2, 3]),
        "uuid": len(str(uuid.uuid4())),
        "quote": urllib.parse.quote("a b"),
    }
"""
    result = py(source)

    assert result.status is RunStatus.COMPLETED, result.error_message
    assert json.loads(result.output_json) == {
        "re": ["1", "22"],
        "date": "2026-11-24",
        "math": 4,
        "decimal": "0.3",
        "counter": [["a", 2]],
        "chain": [1, 2],
        "sha256": hashlib.sha256(b"pnil").hexdigest()[:8],
        "b64": "aGk=",
        "fraction": "1",
        "mean": 2,
        "uuid": 36,
        "quote": "a%20b",
    }


def test_host_api_without_a_host_is_refused_catchably(py):
    source = "from pnil import kv, HostCallError\ndef handle(input):\n    try:\n        kv.get('a')\n"
    source += "    except HostCallError as exc:\n        return str(exc)\n"

    result = py(source)

    assert result.status is RunStatus.COMPLETED
    assert "host API is not available" in json.loads(result.output_json)


def test_a_non_utf8_artifact_fails_cleanly(runner):
    request = RunRequest(language=Language.PYTHON, artifact=b"\xff\xfe", input_json="{}")

    result = runner.run(request)

    assert result.status is RunStatus.FAILED
    assert "not UTF-8" in result.error_message


def test_a_memory_limit_below_the_runtimes_own_size_says_what_it_needs(py):
    result = py("add.py", {"a": 1, "b": 2}, max_memory_bytes=8 * MIB)

    assert result.status is RunStatus.FAILED
    assert "too small for the Python runtime" in result.error_message


def test_random_numbers_differ_between_executions(py):
    source = "import random, uuid\ndef handle(input):\n    return [random.random(), str(uuid.uuid4())]\n"

    first, second = (json.loads(py(source).output_json) for _ in range(2))

    assert first[0] != second[0] and first[1] != second[1]


def test_an_instance_prepared_while_idle_serves_one_run_only(runner):
    request = RunRequest(
        language=Language.PYTHON, artifact=b"def handle(i):\n    return 1\n", input_json="{}"
    )
    runner.idle()
    assert runner.prepared

    assert runner.run(request).status is RunStatus.COMPLETED
    assert not runner.prepared
    runner.idle()
    assert runner.prepared


DOCUMENTED_MODULES = (
    "abc array ast base64 binascii bisect calendar cmath codecs collections colorsys contextlib copy csv"
    " dataclasses datetime decimal difflib enum fnmatch fractions functools graphlib hashlib heapq hmac html"
    " html.parser http inspect io ipaddress itertools json keyword math numbers operator pprint random re"
    " secrets shlex statistics string struct textwrap time tomllib traceback types typing unicodedata"
    " urllib.parse uuid warnings weakref xml.etree.ElementTree zlib os sys"
).split()
ABSENT_MODULES = (
    "socket ssl subprocess threading multiprocessing asyncio urllib.request http.client sqlite3 ctypes"
)


def test_the_modules_the_readme_lists_import_and_the_absent_ones_do_not(py):
    source = (
        "import importlib\ndef handle(names):\n    found = []\n    for name in names:\n        try:\n"
        "            importlib.import_module(name)\n            found.append(name)\n"
        "        except ImportError:\n            pass\n    return found\n"
    )

    present = json.loads(py(source, DOCUMENTED_MODULES).output_json)
    absent = json.loads(py(source, ABSENT_MODULES.split()).output_json)

    assert present == DOCUMENTED_MODULES
    assert absent == []
