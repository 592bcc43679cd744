\set s random(1, :stages)
SELECT * FROM users WHERE id = (SELECT id FROM bench_users LIMIT 1);
BEGIN;
SELECT pg_advisory_xact_lock_shared(4851024699963998211);
SELECT * FROM custom_field_definitions WHERE entity_type = 'deal' ORDER BY position, id;
SELECT id, pipeline_id, type FROM stages WHERE id = (SELECT id FROM bench_stages WHERE n = :s);
SELECT id, pipeline_id, type FROM stages WHERE id = (SELECT id FROM bench_stages WHERE n = :s) FOR UPDATE;
SELECT max(position) FROM deals WHERE stage_id = (SELECT id FROM bench_stages WHERE n = :s) AND deleted_at IS NULL;
INSERT INTO deals (id, title, amount, pipeline_id, stage_id, position, created_by_id, custom_fields)
  SELECT gen_random_uuid(), 'bench', 100.00, s.pipeline_id, s.id,
         (SELECT coalesce(max(position) + 65536, 0) FROM deals WHERE stage_id = s.id AND deleted_at IS NULL),
         (SELECT id FROM bench_users LIMIT 1),
         '{"segment": "Enterprise", "score": 42, "renewal_date": "2027-01-01", "signed_at": "2026-05-01T09:30:00.000Z",
           "strategic": true, "products": ["CRM", "Support"], "external_ref": "EXT-bench",
           "website": "https://bench.example.com/", "champion_email": "ann@example.com",
           "champion_phone": "+14155552671"}'::jsonb
  FROM stages s WHERE s.id = (SELECT id FROM bench_stages WHERE n = :s) RETURNING *;
INSERT INTO activity (id, entity_type, entity_id, type, changes) VALUES (gen_random_uuid(), 'deal', gen_random_uuid(), 'deal.created', '[]');
COMMIT;
