UPDATE deals d SET position = r.rn - 1
FROM (SELECT id, row_number() OVER (PARTITION BY stage_id ORDER BY position, id) AS rn
      FROM deals WHERE deleted_at IS NULL) r
WHERE d.id = r.id;
UPDATE deals SET position = 0 WHERE deleted_at IS NOT NULL;
ALTER TABLE deals ALTER COLUMN position TYPE integer;
