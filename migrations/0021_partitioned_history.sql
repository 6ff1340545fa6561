-- executions and events become tables partitioned by day of created_at: history past its
-- retention is dropped a whole day at a time (DROP TABLE of a partition) instead of DELETEd row
-- by row. Each table gets `<table>_archive` (everything before its first day, MINVALUE on) and
-- one `<table>_pYYYYMMDD` per day; the executor's housekeeping creates days ahead and folds or
-- drops old ones (store/partitions.py).
--
-- The conversion is built from the table as it stands (columns, defaults, checks, indexes,
-- foreign keys, triggers), whatever earlier migrations added: nothing below names a column but
-- created_at, id, tenant_id and idempotency_key.
--
-- What a partitioned table cannot keep, and what replaces it:
-- * a primary key without the partition key: it becomes (id, created_at); ids stay unique
--   (gen_random_uuid);
-- * a unique index without the partition key: each is rebuilt as a plain index; the one that
--   mattered, an idempotency key per tenant, moves to `idempotency_keys` (filled by a trigger,
--   so a second execution with a taken key still fails with unique_violation);
-- * foreign keys that point at executions(id) (none in pnil's own migrations): dropped, with a
--   NOTICE naming them; a row they pointed at may now be pruned.

CREATE OR REPLACE FUNCTION pnil_day_partition(parent text, day date) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT parent || '_p' || to_char(day, 'YYYYMMDD') $$;

-- The day partitions from `first_day` to `last_day` that are missing; returns how many it made.
CREATE OR REPLACE FUNCTION pnil_ensure_day_partitions(parent text, first_day date, last_day date)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    d date;
    made integer := 0;
BEGIN
    FOR d IN SELECT generate_series(first_day, last_day, interval '1 day')::date LOOP
        IF to_regclass(pnil_day_partition(parent, d)) IS NULL THEN
            EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                           pnil_day_partition(parent, d), parent,
                           d::timestamp AT TIME ZONE 'UTC', (d + 1)::timestamp AT TIME ZONE 'UTC');
            made := made + 1;
        END IF;
    END LOOP;
    RETURN made;
END $$;

CREATE OR REPLACE FUNCTION pnil_partition_table(parent text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
    old_name text := parent || '_unpartitioned';
    first_day date;
    rec record;
    ddl text;
    index_defs text[];
    fk_defs text[];
    trigger_defs text[];
    columns text;
BEGIN
    IF (SELECT relkind FROM pg_class WHERE oid = parent::regclass) = 'p' THEN
        RETURN;  -- already partitioned
    END IF;
    EXECUTE format('LOCK TABLE %I IN ACCESS EXCLUSIVE MODE', parent);

    FOR rec IN SELECT conname, conrelid::regclass AS child FROM pg_constraint
               WHERE contype = 'f' AND confrelid = parent::regclass LOOP
        RAISE NOTICE 'dropping foreign key % of % (it pointed at %.id, now partitioned)', rec.conname, rec.child, parent;
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', rec.child, rec.conname);
    END LOOP;
    SELECT array_agg(pg_get_indexdef(i.indexrelid)) INTO index_defs
    FROM pg_index i WHERE i.indrelid = parent::regclass AND NOT i.indisprimary;
    SELECT array_agg(format('ALTER TABLE %I ADD CONSTRAINT %I %s', parent, conname, pg_get_constraintdef(oid)))
    INTO fk_defs FROM pg_constraint WHERE contype = 'f' AND conrelid = parent::regclass;
    SELECT array_agg(pg_get_triggerdef(oid)) INTO trigger_defs
    FROM pg_trigger WHERE tgrelid = parent::regclass AND NOT tgisinternal;

    EXECUTE format('ALTER TABLE %I RENAME TO %I', parent, old_name);
    EXECUTE format('CREATE TABLE %I (LIKE %I INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING GENERATED '
                   'INCLUDING STORAGE INCLUDING COMMENTS) PARTITION BY RANGE (created_at)', parent, old_name);

    -- Days back to the oldest row (at most 35: older rows go to the archive partition), 7 ahead.
    EXECUTE format('SELECT min(created_at) FROM %I', old_name) INTO rec;
    first_day := greatest(COALESCE((rec.min AT TIME ZONE 'UTC')::date, current_date),
                          (now() AT TIME ZONE 'UTC')::date - 35);
    EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (MINVALUE) TO (%L)',
                   parent || '_archive', parent, first_day::timestamp AT TIME ZONE 'UTC');
    PERFORM pnil_ensure_day_partitions(parent, first_day, (now() AT TIME ZONE 'UTC')::date + 7);

    -- Every stored column (generated ones are computed again).
    SELECT string_agg(quote_ident(attname), ', ' ORDER BY attnum) INTO columns FROM pg_attribute
    WHERE attrelid = old_name::regclass AND attnum > 0 AND NOT attisdropped AND attgenerated = '';
    EXECUTE format('INSERT INTO %I (%s) SELECT %s FROM %I', parent, columns, columns, old_name);
    EXECUTE format('DROP TABLE %I', old_name);

    EXECUTE format('ALTER TABLE %I ADD PRIMARY KEY (id, created_at)', parent);
    FOREACH ddl IN ARRAY COALESCE(index_defs, '{}') LOOP
        BEGIN
            EXECUTE ddl;
        EXCEPTION WHEN feature_not_supported OR invalid_table_definition THEN
            -- a unique index without created_at: kept as a plain index
            EXECUTE regexp_replace(ddl, '^CREATE UNIQUE INDEX', 'CREATE INDEX');
        END;
    END LOOP;
    FOREACH ddl IN ARRAY COALESCE(fk_defs, '{}') LOOP
        EXECUTE ddl;
    END LOOP;
    FOREACH ddl IN ARRAY COALESCE(trigger_defs, '{}') LOOP
        EXECUTE ddl;
    END LOOP;
END $$;

-- Idempotency keys: unique per tenant across every partition, released after their 24 h.
CREATE TABLE IF NOT EXISTS idempotency_keys (
    tenant_id    uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    key          text NOT NULL,
    execution_id uuid NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, key)
);
CREATE INDEX IF NOT EXISTS idempotency_keys_created ON idempotency_keys (created_at);
INSERT INTO idempotency_keys (tenant_id, key, execution_id, created_at)
SELECT DISTINCT ON (tenant_id, idempotency_key) tenant_id, idempotency_key, id, created_at
FROM executions WHERE idempotency_key IS NOT NULL
ORDER BY tenant_id, idempotency_key, created_at DESC
ON CONFLICT DO NOTHING;

SELECT pnil_partition_table('executions');
SELECT pnil_partition_table('events');

CREATE OR REPLACE FUNCTION pnil_take_idempotency_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO idempotency_keys (tenant_id, key, execution_id, created_at)
    VALUES (NEW.tenant_id, NEW.idempotency_key, NEW.id, NEW.created_at);
    RETURN NULL;
END $$;
DROP TRIGGER IF EXISTS executions_idempotency_key ON executions;
CREATE TRIGGER executions_idempotency_key AFTER INSERT ON executions
    FOR EACH ROW WHEN (NEW.idempotency_key IS NOT NULL) EXECUTE FUNCTION pnil_take_idempotency_key();
