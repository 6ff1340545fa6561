"""The broker every pnil task is declared on; entry points connect it to the database."""

from contextlib import nullcontext

from broker import Broker

broker = Broker()


def task_connection(delivery):
    """The consumer thread's own connection (idle while its task runs) when the worker gives
    one, else one from the broker's pool: a worker process then holds no pool connections."""
    connection = getattr(delivery, "connection", None)
    if connection is not None:
        return nullcontext(connection)
    return broker.db.connection()
