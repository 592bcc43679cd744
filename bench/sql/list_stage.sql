\set n random(1, :stages)
SELECT * FROM users WHERE id = (SELECT id FROM bench_users LIMIT 1);
SELECT count(*) FROM deals WHERE stage_id = (SELECT id FROM bench_stages WHERE n = :n) AND deleted_at IS NULL;
SELECT * FROM deals WHERE stage_id = (SELECT id FROM bench_stages WHERE n = :n) AND deleted_at IS NULL ORDER BY position, id LIMIT 50;
