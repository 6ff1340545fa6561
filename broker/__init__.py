"""A small Celery-style task broker on pgmq: declare tasks, send messages, run workers."""

from broker.broker import Broker
from broker.delivery import Delivery
from broker.errors import BrokerError, Postpone, Reject, Retry, TaskDeclarationError
from broker.message import Message
from broker.retry import RetryPolicy
from broker.task import Task
from broker.worker import Worker

__all__ = [
    "Broker",
    "BrokerError",
    "Delivery",
    "Message",
    "Postpone",
    "Reject",
    "Retry",
    "RetryPolicy",
    "Task",
    "TaskDeclarationError",
    "Worker",
]
