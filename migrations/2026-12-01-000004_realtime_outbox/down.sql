DROP TABLE task_reminders;
DROP TRIGGER events_assign_seq ON events;
DROP FUNCTION events_assign_seq();
DROP TABLE events_horizon;
DROP TABLE events;
DROP SEQUENCE events_seq;
