-- Realtime: the transactional outbox of events (ARCHITECTURE §3/§4), its pruning horizon and
-- the record of task reminders already fired.

-- Delivery order of events. Handed out only at commit time (see events_assign_seq), never at
-- INSERT time.
CREATE SEQUENCE events_seq AS bigint;

-- One row per event, written by the domain services in the transaction of the change.
-- `seq` is NULL while the writing transaction runs; the deferred trigger below sets it at
-- commit, so every committed row has one.
CREATE TABLE events (
    id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    seq           bigint UNIQUE,
    event         text NOT NULL,
    rooms         text[] NOT NULL,
    actor_id      uuid,
    api_key_id    uuid,
    payload       json NOT NULL, -- json, not jsonb: kept as written, read back as text
    -- Who may receive it: every permission of read_perms, and read_all_perm (when set) or
    -- being one of visible_to (owner, creator, assignee: the record's visibility rule).
    read_perms    text[] NOT NULL DEFAULT '{}',
    read_all_perm text,
    visible_to    uuid[] NOT NULL DEFAULT '{}',
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX events_created_idx ON events (created_at);

-- The highest seq the retention job has deleted: a resume from before it cannot be complete.
CREATE TABLE events_horizon (
    id             boolean PRIMARY KEY DEFAULT true CHECK (id),
    pruned_through bigint NOT NULL DEFAULT 0
);
INSERT INTO events_horizon DEFAULT VALUES;

-- Seq order = commit order. The advisory lock is taken at commit time (the trigger is
-- deferred) and held until the transaction is visible to others (PostgreSQL releases locks
-- after marking the transaction committed). So when a reader sees seq N committed, every
-- transaction that got a smaller seq has already committed (or rolled back for good): reading
-- `seq > last_seen` can never skip a row that commits later. The lock is held only for the
-- seq assignment and the commit itself, after every other lock of the transaction was taken,
-- so it cannot take part in a deadlock.
CREATE FUNCTION events_assign_seq() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(4851024820211962963); -- 0x4352_4d5f_4556_5453 'CRM_EVTS'
    UPDATE events SET seq = nextval('events_seq') WHERE id = NEW.id;
    -- Delivered by PostgreSQL only on commit; identical notifications of one transaction
    -- are folded into one.
    PERFORM pg_notify('crm_events', '');
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER events_assign_seq
    AFTER INSERT ON events
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION events_assign_seq();

-- Reminders fired for tasks due: one row per task and due time, so each fires once even with
-- several server instances (the primary key decides who fires it).
CREATE TABLE task_reminders (
    task_id  uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    due_at   timestamptz NOT NULL,
    fired_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, due_at)
);
CREATE INDEX task_reminders_fired_idx ON task_reminders (fired_at);
