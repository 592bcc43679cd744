DROP INDEX events_unstamped_idx;
COMMENT ON COLUMN events.seq IS NULL;

CREATE SEQUENCE events_seq AS bigint;
SELECT setval('events_seq', greatest((SELECT max(seq) FROM events), (SELECT pruned_through FROM events_horizon), 1));

CREATE FUNCTION events_assign_seq() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(4851024820211962963); -- 0x4352_4d5f_4556_5453 'CRM_EVTS'
    UPDATE events SET seq = nextval('events_seq') WHERE id = NEW.id;
    PERFORM pg_notify('crm_events', '');
    RETURN NULL;
END
$$;

CREATE CONSTRAINT TRIGGER events_assign_seq
    AFTER INSERT ON events
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION events_assign_seq();
