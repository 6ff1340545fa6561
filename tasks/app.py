"""The broker every pnil task is declared on; entry points connect it to the database."""

from broker import Broker

broker = Broker()
