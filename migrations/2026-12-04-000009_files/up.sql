-- Files attached to a record. The object lives in the configured storage under the file's id;
-- a row exists only once its object is complete (the upload finishes before the insert).
CREATE TABLE files (
    id             uuid PRIMARY KEY,
    entity_type    text NOT NULL
                   CHECK (entity_type IN ('deal', 'contact', 'company', 'task', 'comment')),
    entity_id      uuid NOT NULL,
    file_name      text NOT NULL CHECK (length(file_name) BETWEEN 1 AND 255),
    content_type   text NOT NULL,
    size           bigint NOT NULL CHECK (size >= 0),
    sha256         text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    uploaded_by_id uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX files_entity_idx ON files (entity_type, entity_id, created_at, id);

-- A record deleted for good (purge, trash retention, a comment's delete) takes its file rows
-- with it in the same statement; the storage sweep then removes the objects no row names.
CREATE FUNCTION files_forget_host() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM files f USING gone WHERE f.entity_type = TG_ARGV[0] AND f.entity_id = gone.id;
    RETURN NULL;
END
$$;

CREATE TRIGGER deals_forget_files AFTER DELETE ON deals
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION files_forget_host('deal');
CREATE TRIGGER contacts_forget_files AFTER DELETE ON contacts
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION files_forget_host('contact');
CREATE TRIGGER companies_forget_files AFTER DELETE ON companies
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION files_forget_host('company');
CREATE TRIGGER tasks_forget_files AFTER DELETE ON tasks
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION files_forget_host('task');
CREATE TRIGGER comments_forget_files AFTER DELETE ON comments
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION files_forget_host('comment');
