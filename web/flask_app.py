"""pnil's Flask: the framework's per-request costs that pnil does not need, taken out."""

from __future__ import annotations

from collections.abc import Callable
from inspect import iscoroutinefunction
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from infra import json_text


class JsonProvider(DefaultJSONProvider):
    """Answers written by orjson (infra/json_text.py), unless sorted or indented (debug)."""

    sort_keys = False  # fields in the order the schemas declare them

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if self.sort_keys or kwargs.get("indent") is not None or kwargs.get("sort_keys"):
            return super().dumps(obj, **kwargs)
        return json_text.dumps(
            obj, default=kwargs.get("default", self.default), ensure_ascii=self.ensure_ascii
        )


class PnilFlask(Flask):
    json_provider_class = JsonProvider

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._is_async: dict[Any, bool] = {}

    def ensure_sync(self, func: Callable[..., Any]) -> Callable[..., Any]:
        """Flask's, with the coroutine check done once per function instead of ~17 times a
        request (it inspects the code object each time)."""
        key = getattr(func, "__func__", func)  # a view's bound method is new on every request
        is_async = self._is_async.get(key)
        if is_async is None:
            is_async = self._is_async[key] = iscoroutinefunction(func)
        return self.async_to_sync(func) if is_async else func
