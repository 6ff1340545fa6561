"""The broker every pnil task is declared on; entry points connect it to the database."""

from contextlib import nullcontext

from broker import Broker
from migrations import require_current_schema

broker = Broker()
# A worker process refuses a schema missing one of this release's migrations.
broker.check_before_start(require_current_schema)


def task_connection(delivery):
    """The consumer thread's own connection (idle while its task runs) when the worker gives
    one, else one from the broker's pool: a worker process then holds no pool connections."""
    connection = getattr(delivery, "connection", None)
    if connection is not None:
        return nullcontext(connection)
    return broker.db.connection()
