"""Resource limits: defaults, overrides, caps."""

from infra import limits
from runner.contract import Limits


def test_defaults_are_the_seed_values():
    assert limits.effective(None) == {
        "maxExecutionTimeMs": 30_000,
        "maxMemoryBytes": 64 * 1024 * 1024,
        "maxConcurrentRuns": 5,
        "maxApiCallsPerMinute": 60,
        "maxOutputSizeBytes": 1024 * 1024,
    }


def test_overrides_win_and_reach_the_runner():
    runner = Limits.of_function({"maxExecutionTimeMs": 1000, "maxOutputSizeBytes": 10})
    assert runner.max_execution_time_ms == 1000 and runner.max_output_size_bytes == 10
    assert runner.max_memory_bytes == 64 * 1024 * 1024


def test_values_above_the_caps_are_named():
    problems = limits.over_caps(
        {"maxMemoryBytes": 10, "maxExecutionTimeMs": 999}, {"maxExecutionTimeMs": 500}
    )
    assert problems == ["resourceLimits.maxExecutionTimeMs is 999, above this server's cap of 500"]
