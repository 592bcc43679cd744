\set n random(1, :deals)
SELECT * FROM users WHERE id = (SELECT id FROM bench_users LIMIT 1);
BEGIN;
SELECT * FROM deals WHERE id = (SELECT id FROM bench_deals WHERE n = :n) AND deleted_at IS NULL;
SELECT id, pipeline_id, type FROM stages WHERE id = (SELECT id FROM bench_stages WHERE n = 1);
SELECT id FROM stages WHERE id IN ((SELECT stage_id FROM deals WHERE id = (SELECT id FROM bench_deals WHERE n = :n)), (SELECT id FROM bench_stages WHERE n = 1)) ORDER BY id FOR UPDATE;
SELECT * FROM deals WHERE id = (SELECT id FROM bench_deals WHERE n = :n) FOR UPDATE;
SELECT id, position FROM deals WHERE stage_id = (SELECT id FROM bench_stages WHERE n = 1) AND deleted_at IS NULL AND id <> (SELECT id FROM bench_deals WHERE n = :n) ORDER BY position, id LIMIT 1;
UPDATE deals SET stage_id = (SELECT id FROM bench_stages WHERE n = 1),
  position = (SELECT min(position) - 65536 FROM deals WHERE stage_id = (SELECT id FROM bench_stages WHERE n = 1) AND deleted_at IS NULL),
  status = 'open', closed_at = NULL, updated_at = now(), version = version + 1
  WHERE id = (SELECT id FROM bench_deals WHERE n = :n);
SELECT * FROM deals WHERE id = (SELECT id FROM bench_deals WHERE n = :n);
INSERT INTO activity (id, entity_type, entity_id, type, changes) VALUES (gen_random_uuid(), 'deal', (SELECT id FROM bench_deals WHERE n = :n), 'deal.stage.changed', '[]');
COMMIT;
