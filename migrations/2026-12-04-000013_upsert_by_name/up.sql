-- Companies are upserted by name too.
ALTER TABLE imports DROP CONSTRAINT imports_upsert_key_check;
ALTER TABLE imports ADD CONSTRAINT imports_upsert_key_check
    CHECK (upsert_key IN ('email', 'phone', 'number', 'name'));
