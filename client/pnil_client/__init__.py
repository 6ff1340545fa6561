"""pnil's Python SDK: `from pnil_client import Client`."""

from pnil_client.client import Client, ExecutionHandle
from pnil_client.errors import (
    BadRequest,
    CompileFailed,
    Conflict,
    ConnectionFailed,
    ExecutionTimeout,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    PnilError,
    ServerError,
    TooManyRequests,
    Unauthorized,
    Unavailable,
)
from pnil_client.models import ApiKey, Execution, Function, QueueStats, Version
from pnil_client.workflows import Workflow, WorkflowRun, WorkflowRunHandle, chain, chord, group, step

__all__ = [
    "ApiKey",
    "BadRequest",
    "Client",
    "CompileFailed",
    "Conflict",
    "ConnectionFailed",
    "Execution",
    "ExecutionHandle",
    "ExecutionTimeout",
    "Forbidden",
    "Function",
    "NotFound",
    "PayloadTooLarge",
    "PnilError",
    "QueueStats",
    "ServerError",
    "TooManyRequests",
    "Unauthorized",
    "Unavailable",
    "Version",
    "Workflow",
    "WorkflowRun",
    "WorkflowRunHandle",
    "chain",
    "chord",
    "group",
    "step",
]
