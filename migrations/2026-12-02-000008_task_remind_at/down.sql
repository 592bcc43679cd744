DELETE FROM task_reminders WHERE kind <> 'DUE';
ALTER TABLE task_reminders DROP CONSTRAINT task_reminders_pkey;
ALTER TABLE task_reminders DROP COLUMN kind;
ALTER TABLE task_reminders RENAME COLUMN at TO due_at;
ALTER TABLE task_reminders ADD PRIMARY KEY (task_id, due_at);

DROP INDEX tasks_remind_idx;
ALTER TABLE tasks DROP COLUMN remind_at;
