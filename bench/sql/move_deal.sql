\set n random(1, :deals)
\set s random(1, :stages)
SELECT * FROM users WHERE id = (SELECT id FROM bench_users LIMIT 1);
BEGIN;
SELECT id FROM stages WHERE id IN ((SELECT stage_id FROM deals WHERE id = (SELECT id FROM bench_deals WHERE n = :n)), (SELECT id FROM bench_stages WHERE n = :s)) ORDER BY id FOR UPDATE;
SELECT * FROM deals WHERE id = (SELECT id FROM bench_deals WHERE n = :n) FOR UPDATE;
UPDATE deals SET stage_id = (SELECT id FROM bench_stages WHERE n = :s), position = -1, updated_at = now(), version = version + 1 WHERE id = (SELECT id FROM bench_deals WHERE n = :n);
UPDATE deals d SET position = r.rn - 1 FROM (SELECT id, row_number() OVER (ORDER BY position, id) AS rn FROM deals WHERE stage_id = (SELECT id FROM bench_stages WHERE n = :s) AND deleted_at IS NULL) r WHERE d.id = r.id AND d.position <> r.rn - 1;
INSERT INTO activity (id, entity_type, entity_id, type, changes) VALUES (gen_random_uuid(), 'deal', (SELECT id FROM bench_deals WHERE n = :n), 'deal.stage.changed', '[]');
COMMIT;
