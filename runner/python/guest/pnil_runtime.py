"""The entry module of pnil's Python runtime. It runs inside the sandbox, never on the host.

componentize-py builds it once into a WebAssembly component and pre-initialises it: every
module imported here is already loaded in the snapshot each run starts from, so a function's
own ``import json`` costs nothing. Each run is a fresh instance of that snapshot.
"""

# componentize-py bundles only the modules the entry module loads, so this list is the standard
# library a function can import (pure-Python or built in; nothing that needs files, sockets,
# threads or subprocesses). They are loaded in the snapshot, so importing them costs nothing.
import abc  # noqa: F401
import array  # noqa: F401
import base64  # noqa: F401
import binascii  # noqa: F401
import bisect  # noqa: F401
import calendar  # noqa: F401
import cmath  # noqa: F401
import collections  # noqa: F401
import collections.abc  # noqa: F401
import colorsys  # noqa: F401
import contextlib  # noqa: F401
import copy  # noqa: F401
import csv  # noqa: F401
import dataclasses  # noqa: F401
import datetime  # noqa: F401
import decimal  # noqa: F401
import difflib  # noqa: F401
import enum  # noqa: F401
import fnmatch  # noqa: F401
import fractions  # noqa: F401
import functools  # noqa: F401
import gc
import graphlib  # noqa: F401
import hashlib  # noqa: F401
import heapq  # noqa: F401
import hmac  # noqa: F401
import html  # noqa: F401
import html.parser  # noqa: F401
import http  # noqa: F401
import inspect
import io
import ipaddress  # noqa: F401
import itertools  # noqa: F401
import json
import linecache
import math  # noqa: F401
import numbers  # noqa: F401
import operator  # noqa: F401
import pprint  # noqa: F401
import random
import re  # noqa: F401
import secrets  # noqa: F401
import shlex  # noqa: F401
import statistics  # noqa: F401
import string  # noqa: F401
import struct  # noqa: F401
import sys
import textwrap  # noqa: F401
import time  # noqa: F401
import tomllib  # noqa: F401
import traceback
import types
import typing  # noqa: F401
import unicodedata  # noqa: F401
import urllib.parse  # noqa: F401
import uuid  # noqa: F401
import weakref  # noqa: F401
import xml.etree.ElementTree  # noqa: F401
import zlib  # noqa: F401

import pnil  # the host API module, pre-loaded like the standard library
import wit_world

FILENAME = "function.py"
NO_HANDLE = "no handle function defined: define `def handle(input, context=None): ...`"
_RETURN_HINT = "return a JSON-compatible value (dict, list, str, int, float, bool or None)"
# Traceback entries shown at most: the first and last of a deep recursion.
_MAX_LINES = 20
_to_json = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode
_to_ascii_json = json.JSONEncoder(allow_nan=False, separators=(",", ":")).encode
_source = ""  # the source of the current run, for tracebacks


class _Logs(io.TextIOBase):
    """``sys.stdout`` and ``sys.stderr`` of a run: keeps up to ``limit`` bytes of UTF-8."""

    def __init__(self, limit):
        self._parts, self._room, self.truncated = [], limit, False

    def writable(self):
        return True

    def write(self, text):
        if not self.truncated:
            data = text.encode("utf-8", "replace")
            if len(data) <= self._room:
                self._parts.append(data.decode("utf-8"))
                self._room -= len(data)
            else:
                self._parts.append(data[: self._room].decode("utf-8", "ignore"))
                self._room, self.truncated = 0, True
        return len(text)

    def text(self):
        return "".join(self._parts)


def _load(source):
    """The namespace of ``source`` after running its top-level code."""
    global _source
    _source = source
    code = compile(source, FILENAME, "exec", dont_inherit=True)
    namespace = {"__name__": "function", "__file__": FILENAME, "__builtins__": __builtins__}
    exec(code, namespace)
    return namespace


def _takes_context(handle):
    """True when ``handle`` accepts a second positional argument."""
    if type(handle) is types.FunctionType:  # the usual case, without inspect's cost
        code = handle.__code__
        return code.co_argcount >= 2 or bool(code.co_flags & inspect.CO_VARARGS)
    try:
        inspect.signature(handle).bind(None, None)
    except TypeError:
        return False
    except ValueError:  # no signature (a builtin): give it both
        return True
    return True


def _drive(coroutine):
    """The result of an ``async def handle``: nothing in the sandbox is waited for, so the
    coroutine runs to its end without an event loop."""
    try:
        while True:
            coroutine.send(None)
    except StopIteration as stop:
        return stop.value


def _describe(exc):
    """``Type: message`` and the traceback lines that are the function's own."""
    head = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    # Tracebacks show the function's own lines.
    linecache.cache[FILENAME] = (len(_source), None, _source.splitlines(True), FILENAME)
    frames = [frame for frame in traceback.extract_tb(exc.__traceback__) if frame.filename == FILENAME]
    if isinstance(exc, RecursionError):
        head += " (the recursion is too deep)"
    # Repeated frames are folded into "[Previous line repeated N more times]"; what remains of
    # a deep mutual recursion is cut in the middle.
    lines = traceback.StackSummary.from_list(frames).format()
    if len(lines) > _MAX_LINES:
        cut = len(lines) - _MAX_LINES
        lines = [*lines[: _MAX_LINES // 2], f"  ... {cut} more lines ...\n", *lines[-_MAX_LINES // 2 :]]
    if not lines:
        return head
    return head + "\nTraceback (most recent call last):\n" + "".join(lines).rstrip("\n")


def _clean(text):
    """``text`` as valid Unicode (lone surrogates cannot cross the component boundary)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace").decode("utf-8")
    return text


def _syntax_error(exc):
    where = f" at line {exc.lineno}, column {exc.offset}" if exc.lineno else ""
    return f"{type(exc).__name__}: {exc.msg}{where}"


class WitWorld(wit_world.WitWorld):
    def check(self, source):
        sys.stdout = sys.stderr = _Logs(0)
        return _clean(self._problem(source) or "") or None

    def _problem(self, source):
        try:
            handle = _load(source).get("handle")
        except SyntaxError as exc:
            return _syntax_error(exc)
        except MemoryError:
            return "MemoryError: the top-level code ran out of memory"
        except BaseException as exc:  # noqa: BLE001 - anything the source raises is the user's
            return _describe(exc) + "\n(while running the top-level code)"
        return None if callable(handle) else NO_HANDLE

    def run(self, source, input, context, output_limit, log_limit):
        logs = sys.stdout = sys.stderr = _Logs(log_limit)
        # The generator's state was seeded when the snapshot was made: every run reseeds it.
        random.seed()

        def outcome(status, text):
            return wit_world.Outcome(status, _clean(text), logs.text(), logs.truncated)

        try:
            handle = _load(source).get("handle")
            if not callable(handle):
                return outcome(wit_world.Status.FAILED, NO_HANDLE)
            args = (json.loads(input), json.loads(context))
            value = handle(*args) if _takes_context(handle) else handle(args[0])
            if inspect.iscoroutine(value):
                value = _drive(value)
        except MemoryError:
            return outcome(wit_world.Status.OUT_OF_MEMORY, "")
        except SyntaxError as exc:
            return outcome(wit_world.Status.FAILED, _syntax_error(exc))
        except SystemExit as exc:
            return outcome(
                wit_world.Status.FAILED, f"the function called sys.exit({exc.code!r}); return a value instead"
            )
        except pnil.Retry as exc:
            delay = exc.delay_ms if isinstance(exc.delay_ms, int | float) and exc.delay_ms >= 0 else None
            return outcome(wit_world.Status.RETRY, json.dumps({"message": str(exc), "delayMs": delay}))
        except BaseException as exc:  # noqa: BLE001 - anything the function raises is the user's
            return outcome(wit_world.Status.FAILED, _describe(exc))
        try:
            text = _to_json(value)
            try:
                size = len(text.encode("utf-8"))
            except UnicodeEncodeError:  # lone surrogates: escape them, the host says why it refuses
                text = _to_ascii_json(value)
                size = len(text)
        except MemoryError:
            return outcome(wit_world.Status.OUT_OF_MEMORY, "")
        except (TypeError, ValueError, RecursionError) as exc:
            return outcome(
                wit_world.Status.FAILED,
                f"the returned value is not JSON-serialisable: {type(exc).__name__}: {exc}; {_RETURN_HINT}",
            )
        if size > output_limit:
            return outcome(wit_world.Status.OUTPUT_TOO_LARGE, str(size))
        return outcome(wit_world.Status.COMPLETED, text)


# Everything loaded so far lives in the snapshot: the cycle collector need never walk it, which
# would touch (and copy) every page of the snapshot in each fresh instance.
gc.freeze()
