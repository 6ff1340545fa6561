-- Safe deploys: a staged version compiles beside the one that serves and replaces it only once
-- READY. functions.revision stays the serving version; pending_revision names the staged one
-- (a row of function_versions with its own compile status and error) until it is promoted,
-- replaced by a plain update, or superseded by another staged version.
ALTER TABLE functions ADD COLUMN IF NOT EXISTS pending_revision integer;
