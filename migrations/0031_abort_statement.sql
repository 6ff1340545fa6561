-- A statement that finds, halfway, that what it did so far must not commit raises with this, so
-- that all of it rolls back and the caller takes another way: store/end_then_start.py, when a
-- workflow group member's end finds that another member took its join down to its last member
-- between the statement's snapshot and its count-down.
CREATE OR REPLACE FUNCTION pnil_abort(message text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION USING MESSAGE = message;
END
$$;
