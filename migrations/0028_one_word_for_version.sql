-- One word for a version: the API says `version`, and so does the schema from here on.
--   functions.revision              -> functions.version          (the version that serves)
--   functions.pending_revision      -> functions.pending_version  (the staged one, store/staged.py)
--   function_versions.number        -> function_versions.version
--   workflow_versions.number        -> workflow_versions.version
--   executions.function_version     -> executions.version         (the version that ran)
-- executions is partitioned by day (0021): renaming the parent's column renames it on every
-- attached partition, executions_archive included. A day partition left detached by an
-- interrupted housekeeping pass is renamed on its own (it is only ever dropped, but keep its
-- columns those of the parent). Each rename happens only where the old column is still there, so
-- a database whose history already renamed one (tests/integration/test_partition_migration.py)
-- migrates too. No view, index expression, trigger or SQL function of earlier migrations names
-- these columns; constraints follow a renamed column by themselves (only their names are kept).
CREATE OR REPLACE FUNCTION pg_temp.pnil_rename_column(tbl regclass, old_name name, new_name name)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = tbl AND attname = old_name AND NOT attisdropped)
       AND NOT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = tbl AND attname = new_name AND NOT attisdropped)
    THEN
        EXECUTE format('ALTER TABLE %s RENAME COLUMN %I TO %I', tbl, old_name, new_name);
    END IF;
END $$;

SELECT pg_temp.pnil_rename_column('functions', 'revision', 'version');
SELECT pg_temp.pnil_rename_column('functions', 'pending_revision', 'pending_version');
SELECT pg_temp.pnil_rename_column('function_versions', 'number', 'version');
SELECT pg_temp.pnil_rename_column('workflow_versions', 'number', 'version');
SELECT pg_temp.pnil_rename_column('executions', 'function_version', 'version');

-- Tables of the executions family that still say function_version and do not inherit it (a
-- detached day partition): renamed as the parent was.
SELECT pg_temp.pnil_rename_column(c.oid, 'function_version', 'version')
FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r' AND c.relname LIKE 'executions%'
  AND a.attname = 'function_version' AND NOT a.attisdropped AND a.attinhcount = 0;

DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_constraint
               WHERE conrelid = 'functions'::regclass AND conname = 'functions_revision_check') THEN
        ALTER TABLE functions RENAME CONSTRAINT functions_revision_check TO functions_version_check;
    END IF;
END $$;
