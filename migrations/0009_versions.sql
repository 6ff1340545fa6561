-- The compile outcome of every version (the function row only holds its current one).
ALTER TABLE function_versions ADD COLUMN IF NOT EXISTS status text DEFAULT 'PENDING'
    CHECK (status IN ('PENDING', 'READY', 'FAILED'));
ALTER TABLE function_versions ADD COLUMN IF NOT EXISTS compile_error text;
