"""Secret values out of what pnil stores or shows: each occurrence becomes `[secret NAME]`."""

from __future__ import annotations

import json
from typing import Any


def mark(name: str) -> str:
    """What stands in for the value of secret `name`."""
    return f"[secret {name}]"


class Redactor:
    """Replaces the values of the secrets a run read (longest first, so none is left in part)."""

    def __init__(self, revealed: dict[str, str]) -> None:
        pairs = [(value, name) for name, value in revealed.items() if value]
        self._pairs = sorted(pairs, key=lambda pair: len(pair[0]), reverse=True)

    def __bool__(self) -> bool:
        return bool(self._pairs)

    def text(self, text: str | None) -> str | None:
        """The text with every secret value replaced."""
        if not text or not self._pairs:
            return text
        for value, name in self._pairs:
            if value in text:
                text = text.replace(value, mark(name))
        return text

    def value(self, value: Any) -> Any:
        """A JSON-compatible value with every string (and key) redacted; a number that shows a
        secret becomes the marked string."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(k): self.value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.value(v) for v in value]
        if isinstance(value, int | float) and not isinstance(value, bool):
            shown = json.dumps(value)
            redacted = self.text(shown)
            return value if redacted == shown else redacted
        return value

    def json_text(self, text: str | None) -> str | None:
        """JSON text redacted value by value (it stays valid JSON)."""
        if not text or not self._pairs or not any(v in text or _escaped(v) in text for v, _ in self._pairs):
            return text
        return json.dumps(self.value(json.loads(text)), ensure_ascii=False, separators=(",", ":"))


def _escaped(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)[1:-1]
