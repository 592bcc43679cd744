\set n random(1, :contacts)
SELECT * FROM users WHERE id = (SELECT id FROM bench_users LIMIT 1);
SELECT * FROM contacts WHERE id = (SELECT id FROM bench_contacts WHERE n = :n) AND deleted_at IS NULL;
SELECT * FROM activity WHERE entity_type = 'contact' AND entity_id = (SELECT id FROM bench_contacts WHERE n = :n) ORDER BY created_at DESC, id DESC LIMIT 51;
