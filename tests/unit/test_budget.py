"""The connection budget's formula at the defaults, and the worker's QUEUE:THREADS arguments."""

import pytest

from broker.__main__ import parse_queues
from infra.budget import Host, budget, hosts_that_fit
from infra.settings import Settings

DEFAULTS = Settings(database_url="postgresql:///unused")


def test_a_default_host_with_two_web_workers_holds_23_and_four_fit_in_100():
    figures = budget(DEFAULTS, Host(web_workers=2))
    assert figures == {
        "pnil-web": 8,
        "pnil-compiler": 4,
        "pnil-consumer": 2,
        "pnil-executor": 7,
        "pnil-scheduler": 2,
    }
    assert hosts_that_fit(100, sum(figures.values())) == 4


def test_with_one_web_worker_a_host_holds_19():
    assert sum(budget(DEFAULTS, Host(web_workers=1)).values()) == 19
    assert hosts_that_fit(100, 19) == 4


def test_the_web_pool_holds_a_sync_execute_per_sandbox():
    # A sync execute holds a pool connection for its run: fewer than the sandboxes would idle them.
    assert DEFAULTS.web_pool_size >= DEFAULTS.runner_pool_size


def test_the_procfile_executor_gives_events_one_thread():
    assert parse_queues(["executions", "events:1"]) == (["executions", "events"], {"events": 1})


@pytest.mark.parametrize("spec", ["events:0", "events:x", "events:-1"])
def test_a_bad_thread_count_is_refused(spec):
    with pytest.raises(SystemExit, match="positive integer"):
        parse_queues([spec])


def test_the_budget_host_shape_is_the_procfiles():
    from infra.supervisor import long_running, read_procfile
    from tests.conftest import PROJECT_ROOT

    shapes = {}
    for name in ("compiler", "consumer", "executor"):
        argv = long_running(read_procfile(PROJECT_ROOT / "Procfile"))[name].split()
        specs = argv[argv.index("tasks:broker") + 1 : argv.index("--name")]
        default = int(argv[argv.index("--default-concurrency") + 1]) if "--default-concurrency" in argv else 1
        queues, threads = parse_queues(specs)
        shapes[name] = tuple(threads.get(q, default) for q in queues)
    shape = Host()
    assert shapes == {"compiler": shape.compiler, "consumer": shape.consumer, "executor": shape.executor}
