-- Python functions: the language list grows (the database's own guard on functions.language).
ALTER TABLE functions DROP CONSTRAINT IF EXISTS functions_language_check;
ALTER TABLE functions ADD CONSTRAINT functions_language_check
    CHECK (language IN ('assemblyscript', 'javascript', 'python', 'wasm'));
