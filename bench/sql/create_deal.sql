SELECT * FROM users WHERE id = (SELECT id FROM bench_users LIMIT 1);
BEGIN;
SELECT s.id, s.pipeline_id FROM stages s JOIN pipelines p ON p.id = s.pipeline_id WHERE p.is_default AND s.type = 'OPEN' ORDER BY s.position LIMIT 1;
SELECT id FROM stages WHERE id = (SELECT id FROM bench_stages WHERE n = 1) FOR UPDATE;
INSERT INTO deals (id, title, amount, pipeline_id, stage_id, position, created_by_id)
  SELECT gen_random_uuid(), 'bench', 100.00, s.pipeline_id, s.id,
         (SELECT coalesce(max(position), -1) + 1 FROM deals WHERE stage_id = s.id AND deleted_at IS NULL), NULL
  FROM stages s WHERE s.id = (SELECT id FROM bench_stages WHERE n = 1);
INSERT INTO activity (id, entity_type, entity_id, type, changes) VALUES (gen_random_uuid(), 'deal', gen_random_uuid(), 'deal.created', '[]');
COMMIT;
