-- Wakes a queue's idle consumers when messages are sent (broker/wakeup.py LISTENs on the channel).
-- broker/pgmq.py's create_queue puts it on each queue table in place of pgmq's own
-- (pgmq.enable_notify_insert): a row trigger that also updates the queue's row of
-- pgmq.notify_insert_throttle, on every message. That row is one per queue, so every transaction
-- sending to the queue held its lock until it committed (concurrent senders queued on it), and a
-- batch of 1,000 messages updated it 1,000 times. This one notifies once per statement, on the
-- same channel; PostgreSQL delivers one notification per channel and transaction either way.
CREATE OR REPLACE FUNCTION pnil_notify_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('pgmq.' || TG_TABLE_NAME || '.' || TG_OP, NULL);
    RETURN NULL;
END
$$;
