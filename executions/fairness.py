"""Fair use of one process's sandboxes between tenants.

A tenant never takes the last free sandbox while it already runs an execution here, so another
tenant arriving always finds one (when the process has two or more). A request that cannot get
a sandbox waits at most `wait_s`, and at most `max_waiting` of one tenant's requests wait at
once; past either it is refused (TenantBusy → 429 with Retry-After). One tenant's flood of slow
executions therefore holds at most `max_waiting` request threads and all but one sandbox, and
leaves the rest to everyone else and to /health.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager


class TenantBusy(RuntimeError):
    """The tenant is using its share of this process's sandboxes; try again shortly."""


class SandboxAdmission:
    def __init__(self, sandboxes: int, *, wait_s: float, max_waiting: int) -> None:
        self.sandboxes = max(1, sandboxes)
        self.wait_s = wait_s
        self.max_waiting = max(1, max_waiting)
        self._running: Counter[uuid.UUID] = Counter()
        self._waiting: Counter[uuid.UUID] = Counter()
        self._cond = threading.Condition()

    def _may_take(self, tenant_id: uuid.UUID) -> bool:
        free = self.sandboxes - sum(self._running.values())
        if free <= 0:
            return False
        return self._running[tenant_id] == 0 or free > 1 or self.sandboxes == 1

    @contextmanager
    def admit(self, tenant_id: uuid.UUID) -> Iterator[None]:
        """Hold one of this process's sandboxes for the tenant while the block runs."""
        with self._cond:
            if not self._may_take(tenant_id):
                if self._waiting[tenant_id] >= self.max_waiting:
                    raise TenantBusy(self._refusal())
                self._waiting[tenant_id] += 1
                try:
                    deadline = time.monotonic() + self.wait_s
                    while not self._may_take(tenant_id):
                        remaining = deadline - time.monotonic()
                        if remaining <= 0:
                            raise TenantBusy(self._refusal())
                        self._cond.wait(remaining)
                finally:
                    self._waiting[tenant_id] -= 1
            self._running[tenant_id] += 1
        try:
            yield
        finally:
            with self._cond:
                self._running[tenant_id] -= 1
                if self._running[tenant_id] <= 0:
                    del self._running[tenant_id]
                # One waiter can take the freed sandbox; with several tenants waiting, the one
                # woken might not be allowed to, so then every waiter checks.
                if sum(1 for count in self._waiting.values() if count > 0) > 1:
                    self._cond.notify_all()
                else:
                    self._cond.notify()

    def _refusal(self) -> str:
        return (
            "your tenant's executions are using their share of this server's sandboxes "
            f"(all but one of {self.sandboxes} per web process, at most {self.max_waiting} waiting); "
            "retry shortly (Retry-After) or queue the execution with POST /functions/{id}/executions"
        )
