"""Sandbox admission between tenants (pure logic with threads)."""

from __future__ import annotations

import threading
import uuid

import pytest

from executions.fairness import SandboxAdmission, TenantBusy

A, B = uuid.uuid4(), uuid.uuid4()


def test_a_tenant_never_takes_the_last_free_sandbox_while_it_runs():
    admission = SandboxAdmission(3, wait_s=0.05, max_waiting=5)
    with admission.admit(A), admission.admit(A):
        with pytest.raises(TenantBusy, match="share"):
            with admission.admit(A):
                pass
        with admission.admit(B):  # the one left is another tenant's to take
            pass


def test_a_single_sandbox_is_shared_by_waiting():
    admission = SandboxAdmission(1, wait_s=1.0, max_waiting=5)
    order = []
    with admission.admit(A):
        waiter = threading.Thread(target=lambda: admission.admit(A).__enter__() or order.append("second"))
        waiter.start()
        order.append("first")
    waiter.join(2)
    assert order == ["first", "second"]


def test_waiting_is_bounded_in_time_and_in_number():
    admission = SandboxAdmission(2, wait_s=0.3, max_waiting=1)
    results = []

    def wait_for_one():
        try:
            with admission.admit(A):
                results.append("ran")
        except TenantBusy:
            results.append("refused")

    with admission.admit(A):
        first = threading.Thread(target=wait_for_one)
        first.start()
        threading.Event().wait(0.05)
        with pytest.raises(TenantBusy):  # a second waiter of the same tenant: refused at once
            with admission.admit(A):
                pass
        first.join(2)
    assert results == ["refused"]  # the first waiter gave up after wait_s


def test_a_released_sandbox_goes_to_a_waiter():
    admission = SandboxAdmission(2, wait_s=2.0, max_waiting=3)
    done = []
    release = threading.Event()

    def hold():
        with admission.admit(A):
            release.wait(2)

    holder = threading.Thread(target=hold)
    holder.start()
    threading.Event().wait(0.05)
    waiter = threading.Thread(target=lambda: (admission.admit(A).__enter__(), done.append(True)))
    waiter.start()
    threading.Event().wait(0.1)
    assert done == []
    release.set()
    waiter.join(2)
    holder.join(2)
    assert done == [True]
