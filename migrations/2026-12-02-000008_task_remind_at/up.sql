-- A task can ask to be reminded at a time of its own (`remindAt`), apart from when it is due.
ALTER TABLE tasks ADD COLUMN remind_at timestamptz;
CREATE INDEX tasks_remind_idx ON tasks (remind_at)
    WHERE status IN ('TODO', 'IN_PROGRESS') AND remind_at IS NOT NULL;

-- One row per task, kind of reminder and time: `DUE` fires `task.due` at `dueAt`, `REMIND`
-- fires `task.reminder` at `remindAt`; each fires once even with several server instances.
ALTER TABLE task_reminders RENAME COLUMN due_at TO at;
ALTER TABLE task_reminders
    ADD COLUMN kind text NOT NULL DEFAULT 'DUE' CHECK (kind IN ('DUE', 'REMIND'));
ALTER TABLE task_reminders ALTER COLUMN kind DROP DEFAULT;
ALTER TABLE task_reminders DROP CONSTRAINT task_reminders_pkey;
ALTER TABLE task_reminders ADD PRIMARY KEY (task_id, kind, at);
