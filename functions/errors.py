"""What the function service refuses, by kind; `web/errors.py` maps each kind to one HTTP answer."""

from __future__ import annotations


class FunctionError(Exception):
    """Base of the function service's refusals; the message says what happened and what to do."""


class FunctionNotFound(FunctionError, LookupError):
    """No such function for this tenant (another tenant's is not found either: existence does not leak)."""


class VersionNotFound(FunctionError, LookupError):
    """The function has no version of that number."""


class InvalidFunction(FunctionError, ValueError):
    """The request cannot make a valid function (an unknown secret, a cap exceeded, a trigger
    without what it needs)."""


class SourceTooLarge(FunctionError, ValueError):
    """The source is over the configured size limit."""


class FunctionConflict(FunctionError):
    """The change clashes with the current state: a name taken, an overlapping HTTP binding, an
    illegal lifecycle transition."""
