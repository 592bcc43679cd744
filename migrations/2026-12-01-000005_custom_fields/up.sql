-- Custom fields: typed definitions per record type. Values live in the records' own
-- `custom_fields` jsonb columns (canonical JSON per type, validated by crm-custom-fields).
--
-- Indexes on the values:
-- * one GIN (jsonb_path_ops) index per record table serves equality and MULTI_SELECT
--   membership (`custom_fields @> '{"key": value}'`);
-- * per field, the definition service creates a btree index on `(custom_fields -> 'key')`
--   (ranges and sorting; `cf_<table>_<key>`) and, for unique fields, a partial unique index
--   on the same expression over records not in the trash (`cfu_<table>_<key>`).

CREATE TABLE custom_field_definitions (
    id          uuid PRIMARY KEY,
    entity_type text NOT NULL CHECK (entity_type IN ('contact', 'company', 'deal', 'task')),
    -- snake_case, immutable; at most 48 characters so that index names fit in 63 bytes.
    key         text NOT NULL CHECK (key ~ '^[a-z][a-z0-9_]{0,47}$'),
    name        text NOT NULL,
    type        text NOT NULL CHECK (type IN ('TEXT', 'NUMBER', 'DATE', 'DATETIME', 'BOOLEAN',
                                              'SELECT', 'MULTI_SELECT', 'URL', 'EMAIL', 'PHONE')),
    options     text[] NOT NULL DEFAULT '{}',
    is_required boolean NOT NULL DEFAULT false,
    is_unique   boolean NOT NULL DEFAULT false,
    default_value jsonb,
    position    integer NOT NULL DEFAULT 0,
    is_active   boolean NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    version     integer NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX custom_field_definitions_key_key ON custom_field_definitions (entity_type, key);
CREATE INDEX custom_field_definitions_position_idx ON custom_field_definitions (entity_type, position);

-- Values of deactivated fields, kept out of the records (so every read hides them for free)
-- until the field is activated again. Deleting the field deletes them.
CREATE TABLE custom_field_archive (
    field_id  uuid NOT NULL REFERENCES custom_field_definitions (id) ON DELETE CASCADE,
    record_id uuid NOT NULL,
    value     jsonb NOT NULL,
    PRIMARY KEY (field_id, record_id)
);

CREATE INDEX contacts_custom_fields_idx ON contacts USING gin (custom_fields jsonb_path_ops);
CREATE INDEX companies_custom_fields_idx ON companies USING gin (custom_fields jsonb_path_ops);
CREATE INDEX deals_custom_fields_idx ON deals USING gin (custom_fields jsonb_path_ops);
CREATE INDEX tasks_custom_fields_idx ON tasks USING gin (custom_fields jsonb_path_ops);
