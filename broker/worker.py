"""The worker: reads a queue's messages, runs their tasks, retries, dead-letters, stops cleanly."""

from __future__ import annotations

import logging
import threading
import time

import psycopg

from broker.batching import BatchSizer
from broker.broker import Broker
from broker.delivery import Delivery
from broker.errors import Postpone, Reject, Retry
from broker.heartbeat import Heartbeat
from broker.message import Message
from broker.pgmq import next_visible_in
from broker.read_ahead import ReadAhead, give_back
from broker.task import Task
from broker.wakeup import QueueWakeup, WakeupListener
from infra.logs import event
from infra.stopping import StopSignals

log = logging.getLogger(__name__)
# When a task's on_dead action fails, its message comes back after this many seconds.
DEAD_ACTION_RETRY_S = 30


class Worker:
    """Runs the tasks of the given queues with `concurrency` threads per queue (`threads` names
    queues that get another count)."""

    def __init__(
        self,
        broker: Broker,
        queues: list[str],
        *,
        concurrency: int = 1,
        threads: dict[str, int] | None = None,
        idle_poll_s: float = 1.0,
        settings: object | None = None,
    ) -> None:
        for queue in queues:
            if not broker.tasks_for(queue):
                raise ValueError(f"no task is declared on queue {queue!r}")
        self.broker = broker
        self.queues = queues
        self.concurrency = concurrency
        self.threads = {queue: (threads or {}).get(queue, concurrency) for queue in queues}
        self.idle_poll_s = idle_poll_s
        self.settings = settings
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._wakeups: dict[str, QueueWakeup] = {
            queue: QueueWakeup(self._stop, idle_poll_s) for queue in queues
        }
        # One per queue, shared by its threads: they measure the same kind of work.
        self._batches: dict[str, BatchSizer] = {queue: self._sizer(queue) for queue in queues}
        self._ahead = ReadAhead()  # what each consumer thread read and has not started
        # One connection listens for every queue and serves the heartbeat's extensions; it stays
        # open after stop while tasks in hand finish.
        self._listener = WakeupListener(
            broker.db.dsn, self._wakeups, self._stop, lambda: self._heartbeat.busy()
        )
        self._heartbeat = Heartbeat(self._listener.borrow, self._stop, on_beat=self._give_back_overdue)

    # -- lifecycle ---------------------------------------------------------------------------
    def start(self) -> None:
        """Run the queues' startup hooks, then start the listener, heartbeat and consumer threads."""
        for queue in self.queues:
            for hook in self.broker.startup_hooks.get(queue, []):
                hook(self.settings)
        self._listener.start()
        self._heartbeat.start()
        for queue in self.queues:
            for i in range(self.threads[queue]):
                t = threading.Thread(target=self._consume, args=(queue,), name=f"{queue}-{i}", daemon=True)
                t.start()
                self._threads.append(t)
        event(log, "worker.started", queues=self.queues, threads=self.threads)

    def stop(self) -> None:
        """Stop reading; messages in hand finish first (see `join`), those read but not started
        are given back at once."""
        self._stop.set()
        for wakeup in self._wakeups.values():
            wakeup.wake_all()
        self._give_back_all()

    def join(self, timeout: float | None = None) -> None:
        """Wait for consumer threads to finish the message they hold."""
        deadline = None if timeout is None else time.monotonic() + timeout
        for t in self._threads:
            t.join(None if deadline is None else max(0.0, deadline - time.monotonic()))
        if self._stop.is_set() and not any(t.is_alive() for t in self._threads):
            self._listener.close()

    def run(self) -> None:
        """Start, then block until SIGTERM/SIGINT; finish messages in hand and return."""
        # The signal handler only sets a flag; stop() (which takes locks) runs here, outside it.
        signals = StopSignals().install()
        self.start()
        signals.wait_then(self.stop, alive=lambda: not self._stop.is_set())
        event(log, "worker.stopping", queues=self.queues)
        self.join()
        event(log, "worker.stopped", queues=self.queues)

    # -- consuming ---------------------------------------------------------------------------
    def _consume(self, queue: str) -> None:
        wakeup = self._wakeups[queue]
        vt_s = max(t.visibility_timeout_s for t in self.broker.tasks_for(queue))
        sizer = self._batches[queue]
        conn: psycopg.Connection | None = None
        failures = 0
        while not self._stop.is_set():
            try:
                if conn is None or conn.closed:
                    conn = self._connect(queue)
                seen = wakeup.generation
                batch = sizer.size()
                messages = self.broker.read(conn, queue, vt_s, batch)
                failures = 0
                if not messages:
                    self._settle(conn, queue)
                    wakeup.wait(seen, next_visible_in(conn, queue))
                    continue
                try:
                    self._handle_batch(conn, messages, vt_s, sizer)
                except BaseException:
                    self._settle(conn, queue)
                    raise
                if len(messages) < batch:  # the queue is running dry: settle now, not after a read
                    self._settle(conn, queue)
            except psycopg.OperationalError as exc:
                failures += 1
                delay = min(10.0, 0.2 * 2**failures)
                event(
                    log,
                    "worker.db_unavailable",
                    level=logging.WARNING,
                    queue=queue,
                    error=str(exc).strip(),
                    retryInS=delay,
                )
                if conn is not None:
                    conn.close()
                conn = None
                self._stop.wait(delay)
            except Exception:  # noqa: BLE001 - a consumer thread must outlive any one message
                # The message stays invisible until its visibility timeout, then is redelivered.
                event(log, "worker.unexpected_error", level=logging.ERROR, queue=queue, exc_info=True)
                self._stop.wait(0.5)
        if conn is not None:
            self._settle(conn, queue)
            conn.close()

    def _handle_batch(
        self, conn: psycopg.Connection, messages: list[Message], vt_s: int, sizer: BatchSizer
    ) -> None:
        """Handle one read's messages in turn and tell the sizer how long they took.

        Messages not started yet stay hidden by the read's visibility timeout only (the heartbeat
        extends a message's once it is started): past a third of it, the rest are given back
        (visible at once, to be read again) rather than risk starting one another reader takes
        meanwhile (a third: the heartbeat's first extension of the last one started comes half a
        timeout later). A stopping worker gives back every thread's rest at once
        (`broker/read_ahead.py`)."""
        read_at = time.monotonic()
        worked, worked_s = 0, 0.0
        self._ahead.hold(messages)
        try:
            while not self._stop.is_set():  # stopping: the rest is given back below
                message, late = self._ahead.take(read_at=read_at, max_held_s=vt_s / 3)
                if late:
                    event(
                        log, "worker.batch_left", level=logging.WARNING, queue=late[0].queue, left=len(late)
                    )
                    self._give_back(conn, late)
                if message is None:
                    break
                began = time.monotonic()
                # A message postponed or dead-lettered took no work of the task: it would make the
                # queue's work look short (a flood of a busy function) and the reads long.
                if self._handle(conn, message):
                    worked += 1
                    worked_s += time.monotonic() - began
        finally:
            rest = self._ahead.drop()  # stopping, or after an error: the rest of the read
            if rest and not conn.closed:
                self._give_back(conn, rest)
        sizer.record(worked_s, worked)

    def _give_back(self, conn: psycopg.Connection, messages: list[Message]) -> None:
        """Make messages read but not started visible again now; on failure they reappear after
        their visibility timeout, as any unfinished message does."""
        try:
            give_back(conn, messages)
        except psycopg.Error as exc:
            event(
                log,
                "worker.give_back_failed",
                level=logging.WARNING,
                queue=messages[0].queue,
                left=len(messages),
                error=str(exc).strip(),
            )

    def _give_back_overdue(self) -> None:
        """Give back the rest of a read whose message in hand runs long (`read_ahead.RUN_LONG_S`),
        on the listening connection (one short statement; the heartbeat calls it every tick)."""
        rest = self._ahead.release_overdue()
        if rest:
            event(log, "worker.read_ahead_given_back", queue=rest[0].queue, left=len(rest))
            self._give_back_on(self._listener.borrow, rest)

    def _give_back_all(self) -> None:
        """Give back what every consumer thread read but will not start (the worker stops), on a
        connection of its own: the threads' are busy with the messages in hand."""
        rest = self._ahead.release_all()
        if rest:
            self._give_back_on(
                lambda: psycopg.connect(self.broker.db.dsn, autocommit=True, connect_timeout=5), rest
            )

    def _give_back_on(self, connection, messages: list[Message]) -> None:
        """`_give_back` messages of any queues on `connection()`; without a connection they
        reappear after their visibility timeout."""
        by_queue: dict[str, list[Message]] = {}
        for message in messages:
            by_queue.setdefault(message.queue, []).append(message)
        try:
            with connection() as conn:
                for of_queue in by_queue.values():
                    self._give_back(conn, of_queue)
        except psycopg.Error as exc:
            event(
                log,
                "worker.give_back_failed",
                level=logging.WARNING,
                left=len(messages),
                error=str(exc).strip(),
            )

    def _sizer(self, queue: str) -> BatchSizer:
        """The queue's read size: its tasks' largest `batch`, by time when one asks (`batch_s`)."""
        tasks = self.broker.tasks_for(queue)
        targets = [t.batch_s for t in tasks if t.batch_s is not None]
        return BatchSizer(most=max(t.batch for t in tasks), batch_s=min(targets) if targets else None)

    def _settle(self, conn: psycopg.Connection | None, queue: str) -> None:
        """Run the queue's tasks' `settle` on the thread's connection (when it is alive)."""
        for task in self.broker.tasks_for(queue):
            if task.settle is None or conn is None or conn.closed:
                continue
            try:
                task.settle(conn)
            except Exception:  # noqa: BLE001 - the consumer thread goes on (the task keeps what failed)
                event(
                    log,
                    "worker.settle_failed",
                    level=logging.ERROR,
                    queue=queue,
                    task=task.name,
                    exc_info=True,
                )

    def _connect(self, queue: str) -> psycopg.Connection:
        """The consumer thread's autocommit connection, with the session settings its tasks ask for."""
        conn = psycopg.connect(self.broker.db.dsn, autocommit=True)
        for task in self.broker.tasks_for(queue):
            for name, value in task.session.items():
                conn.execute("SELECT set_config(%s, %s, false)", (name, value))
        return conn

    def _task_for(self, msg: Message) -> Task | None:
        name = msg.task_name
        if name is not None:
            task = self.broker.tasks.get(name)
            return task if task is not None and task.queue == msg.queue else None
        on_queue = self.broker.tasks_for(msg.queue)
        return on_queue[0] if len(on_queue) == 1 else None

    def _dead(self, conn: psycopg.Connection, msg: Message, reason: str, task: Task | None) -> None:
        if task is not None and task.on_dead is not None and isinstance(msg.body, dict):
            try:
                task.on_dead(msg.body, reason)
            except Exception as exc:  # noqa: BLE001 - keep the message rather than lose its consequence
                # The dead-letter action failed (e.g. the database is down): keep the message and
                # come back to it, so the action is not lost with it.
                self.broker.set_vt(conn, msg.queue, msg.msg_id, DEAD_ACTION_RETRY_S)
                event(
                    log,
                    "message.dead_action_failed",
                    level=logging.ERROR,
                    queue=msg.queue,
                    msgId=msg.msg_id,
                    task=task.name,
                    error=f"{type(exc).__name__}: {exc}",
                    retryInS=DEAD_ACTION_RETRY_S,
                )
                return
        self.broker.archive(conn, msg.queue, msg.msg_id)
        event(
            log,
            "message.dead",
            level=logging.ERROR,
            queue=msg.queue,
            msgId=msg.msg_id,
            task=task.name if task else msg.task_name,
            readCt=msg.read_ct,
            reason=reason,
        )

    def _handle(self, conn: psycopg.Connection, msg: Message) -> bool:
        """Deliver msg to its task; whether the task did its work (it returned, failed or rejected it)."""
        task = self._task_for(msg)
        if task is None:
            self._dead(conn, msg, f"no task {msg.task_name!r} on this queue", None)
            return False
        if not isinstance(msg.body, dict):
            self._dead(conn, msg, "payload is not a JSON object", task)
            return False
        if task.retry.exhausted(msg.read_ct - 1):
            # Earlier deliveries ended without a verdict (the worker died): a poison message.
            self._dead(conn, msg, "retries exhausted by deliveries that never finished", task)
            return False
        self._heartbeat.track(msg.queue, msg.msg_id, task.visibility_timeout_s)
        delivery = Delivery(message=msg, task=task, _heartbeat=self._heartbeat, connection=conn)
        try:
            try:
                task(msg.body, delivery)
            finally:
                self._heartbeat.untrack(msg.queue, msg.msg_id)
        except Reject as exc:
            self._dead(conn, msg, f"rejected: {exc}", task)
            return True
        except Postpone as exc:
            self.broker.set_vt(conn, msg.queue, msg.msg_id, exc.delay)
            log.debug("message %s on %s postponed %ss: %s", msg.msg_id, msg.queue, exc.delay, exc)
            return False
        except Exception as exc:  # noqa: BLE001 - any task failure is retried, by design
            self._retry_or_die(conn, msg, task, exc)
            return True
        if not delivery.acknowledged:
            self.broker.delete(conn, msg.queue, msg.msg_id)
        return True

    def _retry_or_die(self, conn: psycopg.Connection, msg: Message, task: Task, exc: Exception):
        error = f"{type(exc).__name__}: {exc}"
        if task.retry.exhausted(msg.read_ct):
            return self._dead(conn, msg, f"failed {msg.read_ct} times, last: {error}", task)
        delay = exc.delay if isinstance(exc, Retry) and exc.delay is not None else None
        delay = task.retry.delay_for(msg.read_ct) if delay is None else delay
        self.broker.set_vt(conn, msg.queue, msg.msg_id, delay)
        event(
            log,
            "message.retry",
            level=logging.WARNING,
            queue=msg.queue,
            msgId=msg.msg_id,
            task=task.name,
            readCt=msg.read_ct,
            retryInS=delay,
            error=error,
            exc_info=not isinstance(exc, Retry),
        )
