-- Imports of contacts, companies, deals and tasks from CSV or XLSX files, run as background
-- jobs. The uploaded file is kept in the file storage (under `imports/`) until the import ends.
CREATE TABLE imports (
    id              uuid PRIMARY KEY,
    job_id          uuid NOT NULL,
    created_by_id   uuid REFERENCES users (id) ON DELETE SET NULL,
    api_key_id      uuid,
    entity_type     text NOT NULL CHECK (entity_type IN ('contacts', 'companies', 'deals', 'tasks')),
    dry_run         boolean NOT NULL DEFAULT false,
    upsert_key      text CHECK (upsert_key IN ('email', 'phone', 'number')),
    file_name       text NOT NULL,
    mapping         jsonb,
    -- The file's header row, once read (errors.csv repeats it).
    headers         text[],
    status          text NOT NULL DEFAULT 'queued'
                    CHECK (status IN ('queued', 'running', 'succeeded', 'failed')),
    total_rows      bigint NOT NULL DEFAULT 0,
    processed_rows  bigint NOT NULL DEFAULT 0,
    created_rows    bigint NOT NULL DEFAULT 0,
    updated_rows    bigint NOT NULL DEFAULT 0,
    failed_rows     bigint NOT NULL DEFAULT 0,
    -- The last line of the file whose batch has committed: a resumed attempt starts after it.
    done_line       bigint NOT NULL DEFAULT 1,
    error           text,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz
);
CREATE INDEX imports_creator_idx ON imports (created_by_id, created_at, id);

-- The rows an import could not write, as they were in the file, with what was wrong.
CREATE TABLE import_failures (
    import_id uuid NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    line      bigint NOT NULL,
    cells     text[] NOT NULL,
    errors    jsonb NOT NULL,
    PRIMARY KEY (import_id, line)
);

-- The unique keys (e-mails, deal numbers) an import has seen, so a duplicate inside the file is
-- found whatever batch its first occurrence was in; forgotten when the import ends.
CREATE TABLE import_keys (
    import_id uuid NOT NULL REFERENCES imports (id) ON DELETE CASCADE,
    key       text NOT NULL,
    PRIMARY KEY (import_id, key)
);
