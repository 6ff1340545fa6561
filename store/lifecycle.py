"""The lifecycle of a function: DRAFT → ACTIVE ↔ PAUSED, ACTIVE/PAUSED → DISABLED → ARCHIVED."""

from __future__ import annotations

from contracts.statuses import LifecycleState

STATES = tuple(LifecycleState)
TRANSITIONS: dict[str, frozenset[str]] = {
    LifecycleState.DRAFT: frozenset({LifecycleState.ACTIVE}),
    LifecycleState.ACTIVE: frozenset({LifecycleState.PAUSED, LifecycleState.DISABLED}),
    LifecycleState.PAUSED: frozenset({LifecycleState.ACTIVE, LifecycleState.DISABLED}),
    LifecycleState.DISABLED: frozenset({LifecycleState.ARCHIVED}),
    LifecycleState.ARCHIVED: frozenset(),
}


def transition_error(current: str, wanted: str) -> str | None:
    """Why `current` → `wanted` is illegal, or None when it is allowed (staying put is allowed)."""
    if wanted == current or wanted in TRANSITIONS[current]:
        return None
    allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (ARCHIVED is final)"
    return f"a {current} function cannot become {wanted}; allowed from {current}: {allowed}"
