-- Events are numbered after their transaction has committed, by the stamper of a server
-- instance (crm_events::stamp), no longer at commit time: the deferred trigger took one
-- advisory lock and sent one NOTIFY per writing transaction, which made every event-writing
-- transaction of the deployment commit one at a time.
DROP TRIGGER events_assign_seq ON events;
DROP FUNCTION events_assign_seq();
DROP SEQUENCE events_seq;

COMMENT ON COLUMN events.seq IS
    'Delivery order: NULL when written, set by the stamper once the writing transaction has committed.';

-- What the stamper has still to number.
CREATE INDEX events_unstamped_idx ON events (id) WHERE seq IS NULL;
