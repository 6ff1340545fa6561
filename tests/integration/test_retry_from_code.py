"""Retry from code, in every language: pnil.Retry (JavaScript, Python) and retry() (AssemblyScript)."""

from __future__ import annotations

from datetime import datetime

import pytest

from tests.integration.api_fixtures import api
from tests.integration.execute_helpers import execute, register_compiled
from tests.integration.retry_helpers import db_url, start_executor, submit, wait_chain, workers

__all__ = ["api", "db_url", "workers"]  # fixtures used below

# Each asks for a retry in 1.2 s on its first attempt and answers its attempt number after.
SOURCES = {
    "javascript": """
function handle(input, context) {
  if (context.attempt < 2) throw new pnil.Retry('rate limited', { delayMs: 1200 });
  return { attempt: context.attempt };
}
""",
    "python": """
import pnil

def handle(input, context):
    if context["attempt"] < 2:
        raise pnil.Retry("rate limited", delay_ms=1200)
    return {"attempt": context["attempt"]}
""",
    "assemblyscript": """
import { context, retry } from "pnil";

export function handle(input: string): string {
  const ctx = context();
  if (ctx.includes('"attempt":1,')) {
    retry("rate limited", 1200);
  }
  return ctx.includes('"attempt":2,') ? '{"attempt":2}' : '{"attempt":0}';
}
""",
}
# retryOn does not name FAILED and the backoff is a minute: only the code's request retries, soon.
POLICY = {"maxAttempts": 3, "retryOn": ["TIMEOUT"], "initialDelayMs": 60_000, "jitter": False}


@pytest.fixture(scope="module")
def functions(api):
    client = api.test_client()
    ids = {}
    for language, source in SOURCES.items():
        ids.update(register_compiled(client, language, {language: (source, None)}, prefix="retry"))
    for fid in ids.values():
        assert client.put(f"/functions/{fid}", json={"retryPolicy": POLICY}).status_code == 200
    return ids


@pytest.mark.parametrize("language", list(SOURCES))
def test_the_code_asks_for_a_retry_with_its_own_delay(api, functions, workers, language):
    client = api.test_client()
    start_executor(workers)

    first = submit(client, functions[language])
    chain = wait_chain(client, first["id"], timeout=60)

    assert [(r["status"], r["retried"]) for r in chain] == [("FAILED", True), ("COMPLETED", False)]
    assert chain[0]["errorMessage"] == "rate limited"
    assert chain[1]["output"] == {"attempt": 2}
    waited = datetime.fromisoformat(chain[1]["scheduledFor"]) - datetime.fromisoformat(
        chain[0]["completedAt"]
    )
    assert 1.2 <= waited.total_seconds() < 60  # the code's delay, not the policy's minute


@pytest.mark.parametrize("language", list(SOURCES))
def test_past_max_attempts_or_in_a_sync_execute_it_is_just_failed(api, functions, workers, language):
    client = api.test_client()
    start_executor(workers)

    first = submit(client, functions[language], retryPolicy={"maxAttempts": 1})
    synchronous = execute(client, functions[language])

    chain = wait_chain(client, first["id"], timeout=60)
    assert [(r["status"], r["retried"], r["errorMessage"]) for r in chain] == [
        ("FAILED", False, "rate limited")
    ]
    assert (synchronous["status"], synchronous["retried"]) == ("FAILED", False)
    assert synchronous["errorMessage"] == "rate limited"
