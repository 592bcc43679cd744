-- Kanban order becomes a gapped sort key: moving a card writes one row (rarely a few
-- neighbours) instead of renumbering every deal of the stage. Dense 0..n-1 positions scaled by
-- the step keep their order.
ALTER TABLE deals ALTER COLUMN position TYPE bigint USING position::bigint * 65536;
