\set n random(1, :deals)
SELECT * FROM users WHERE id = (SELECT id FROM bench_users LIMIT 1);
SELECT * FROM deals WHERE id = (SELECT id FROM bench_deals WHERE n = :n) AND deleted_at IS NULL;
