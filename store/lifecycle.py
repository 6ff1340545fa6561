"""The lifecycle of a function: DRAFT → ACTIVE ↔ PAUSED, ACTIVE/PAUSED → DISABLED → ARCHIVED."""

from __future__ import annotations

STATES = ("DRAFT", "ACTIVE", "PAUSED", "DISABLED", "ARCHIVED")
TRANSITIONS: dict[str, frozenset[str]] = {
    "DRAFT": frozenset({"ACTIVE"}),
    "ACTIVE": frozenset({"PAUSED", "DISABLED"}),
    "PAUSED": frozenset({"ACTIVE", "DISABLED"}),
    "DISABLED": frozenset({"ARCHIVED"}),
    "ARCHIVED": frozenset(),
}


def transition_error(current: str, wanted: str) -> str | None:
    """Why `current` → `wanted` is illegal, or None when it is allowed (staying put is allowed)."""
    if wanted == current or wanted in TRANSITIONS[current]:
        return None
    allowed = ", ".join(sorted(TRANSITIONS[current])) or "none (ARCHIVED is final)"
    return f"a {current} function cannot become {wanted}; allowed from {current}: {allowed}"
