\set n random(1, :deals)
SELECT * FROM users WHERE id = (SELECT id FROM bench_users LIMIT 1);
BEGIN;
SELECT * FROM deals WHERE id = (SELECT id FROM bench_deals WHERE n = :n) AND deleted_at IS NULL FOR UPDATE;
UPDATE deals SET title = 'patched ' || :n, updated_at = now(), version = version + 1 WHERE id = (SELECT id FROM bench_deals WHERE n = :n);
INSERT INTO activity (id, entity_type, entity_id, type, changes) VALUES (gen_random_uuid(), 'deal', (SELECT id FROM bench_deals WHERE n = :n), 'deal.updated', '[]');
COMMIT;
