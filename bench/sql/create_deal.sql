\set s random(1, :stages)
SELECT * FROM users WHERE id = (SELECT id FROM bench_users LIMIT 1);
BEGIN;
SELECT id, pipeline_id, type FROM stages WHERE id = (SELECT id FROM bench_stages WHERE n = :s);
SELECT id, pipeline_id, type FROM stages WHERE id = (SELECT id FROM bench_stages WHERE n = :s) FOR UPDATE;
SELECT max(position) FROM deals WHERE stage_id = (SELECT id FROM bench_stages WHERE n = :s) AND deleted_at IS NULL;
INSERT INTO deals (id, title, amount, pipeline_id, stage_id, position, created_by_id)
  SELECT gen_random_uuid(), 'bench', 100.00, s.pipeline_id, s.id,
         (SELECT coalesce(max(position) + 65536, 0) FROM deals WHERE stage_id = s.id AND deleted_at IS NULL),
         (SELECT id FROM bench_users LIMIT 1)
  FROM stages s WHERE s.id = (SELECT id FROM bench_stages WHERE n = :s) RETURNING *;
INSERT INTO activity (id, entity_type, entity_id, type, changes) VALUES (gen_random_uuid(), 'deal', gen_random_uuid(), 'deal.created', '[]');
COMMIT;
