DELETE FROM import_keys k WHERE NOT EXISTS (SELECT 1 FROM imports i WHERE i.id = k.import_id);
ALTER TABLE import_keys ADD CONSTRAINT import_keys_import_id_fkey
    FOREIGN KEY (import_id) REFERENCES imports (id) ON DELETE CASCADE;
