-- An import claims a key per row: checking (and share-locking) the import's row for each one
-- cost more than the insert itself. Keys are deleted when their import ends.
ALTER TABLE import_keys DROP CONSTRAINT import_keys_import_id_fkey;
