"""Smoke test of `make bench`: the broker benchmark runs end to end and prints well-formed lines."""

from __future__ import annotations

import json
import re

import psycopg

from bench import broker_throughput, scale
from bench.__main__ import discover

EXPECTED_METRICS = ["raw_pgmq_msgs_per_s", "broker_msgs_per_s", "ratio_vs_raw_pgmq"]


def test_broker_bench_prints_one_json_line_per_metric(database_url, capsys):
    # given a migrated database, when the broker bench runs a tiny round
    returned = broker_throughput.run(n=30, rounds=1, database_url=database_url)

    # expect exactly its three metric lines on stdout, each a JSON object of the agreed shape
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert lines == returned
    assert [line["metric"] for line in lines] == EXPECTED_METRICS
    for line in lines:
        assert line["bench"] == "broker"
        assert isinstance(line["value"], float) and line["value"] > 0
        assert isinstance(line["unit"], str) and line["unit"]
    raw, brokered, ratio = (line["value"] for line in lines)
    # one round: the ratio is that round's broker rate over its raw rate
    assert abs(ratio - brokered / raw) < 0.01


def test_every_benchmark_module_with_run_is_discovered_in_order():
    names = [bench.name for bench in discover()]
    assert names[:2] == ["broker", "compile"]
    assert "stack" not in names and "report" not in names
    # minutes and gigabytes: run on their own (make bench-scale), never by `make bench`
    assert not {"scale", "queue_churn", "partition_width"} & set(names)


def test_bench_scale_fills_drops_a_day_with_its_keepers_and_prunes(database_url):
    with psycopg.connect(database_url, autocommit=True) as conn:
        scale._fill(conn, rows=3000, days=30)
        assert conn.execute("SELECT count(*) FROM executions").fetchone()[0] == 3000 + scale.RARE
        probe = conn.execute("SELECT id FROM functions WHERE name = 'scale-0'").fetchone()[0]

    drop = scale._drop_oldest_day(database_url, probe)
    pruned = scale._prune_cpu(database_url, days=30)

    assert drop["kept"] == scale.RARE and drop["dropped"] == 100
    assert pruned["removed"]["partitionsDropped"] >= 1 and pruned["client_ms"] >= 0


def test_discovery_reads_bench_names_and_orders_them(tmp_path):
    # given modules with and without run(), one naming itself through BENCH, one broken
    (tmp_path / "zeta.py").write_text("def run():\n    pass\n")
    (tmp_path / "compile_latency.py").write_text('BENCH = "compile"\n\ndef run():\n    pass\n')
    (tmp_path / "helpers.py").write_text("def measure():\n    pass\n")
    (tmp_path / "broken.py").write_text("def run(:\n")
    (tmp_path / "report.py").write_text("def run():\n    pass\n")

    # when discovering, expect preferred names first, then the rest by name; helpers skipped
    found = [(bench.name, bench.module) for bench in discover(tmp_path)]
    assert found == [("compile", "compile_latency"), ("broken", "broken"), ("zeta", "zeta")]


def test_the_floor_is_served_by_pnils_own_gunicorn_worker():
    from bench import execute_floor
    from bench.stack import PROJECT_ROOT

    source = (PROJECT_ROOT / "gunicorn.conf.py").read_text()
    assert re.search(r'^worker_class = "([^"]+)"$', source, re.M).group(1) == execute_floor.WORKER_CLASS
