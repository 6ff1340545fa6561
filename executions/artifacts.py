"""Compiled artifacts cached per process, by function id and version."""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict


class ArtifactCache:
    """Compiled artifacts by function id, valid for one version (a version's binary never changes).

    Bounded by total bytes, not entries: artifacts range from a few KiB to megabytes.
    """

    def __init__(self, capacity_bytes: int = 64 * 1024 * 1024) -> None:
        self._items: OrderedDict[uuid.UUID, tuple[int, bytes]] = OrderedDict()
        self._capacity = capacity_bytes
        self._size = 0
        self._lock = threading.Lock()

    def version(self, function_id: uuid.UUID) -> int | None:
        with self._lock:
            item = self._items.get(function_id)
            return item[0] if item else None

    def get(self, function_id: uuid.UUID, version: int) -> bytes | None:
        with self._lock:
            item = self._items.get(function_id)
            if item is None or item[0] != version:
                return None
            self._items.move_to_end(function_id)
            return item[1]

    def put(self, function_id: uuid.UUID, version: int, artifact: bytes) -> None:
        with self._lock:
            old = self._items.pop(function_id, None)
            if old is not None:
                self._size -= len(old[1])
            self._items[function_id] = (version, artifact)
            self._size += len(artifact)
            while self._size > self._capacity and len(self._items) > 1:
                _, (_, evicted) = self._items.popitem(last=False)
                self._size -= len(evicted)
