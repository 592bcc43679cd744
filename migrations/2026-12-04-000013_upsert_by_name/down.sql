ALTER TABLE imports DROP CONSTRAINT imports_upsert_key_check;
UPDATE imports SET upsert_key = NULL WHERE upsert_key = 'name';
ALTER TABLE imports ADD CONSTRAINT imports_upsert_key_check
    CHECK (upsert_key IN ('email', 'phone', 'number'));
