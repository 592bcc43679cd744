\set n random(1, 4)
SELECT * FROM users WHERE id = (SELECT id FROM bench_users LIMIT 1);
SELECT count(*) FROM contacts WHERE deleted_at IS NULL AND (full_name || ' ' || coalesce(email, '') || ' ' || coalesce(phone, '')) ILIKE '%' || (ARRAY['ivan','kim','rossi','tanaka'])[:n] || '%';
SELECT * FROM contacts WHERE deleted_at IS NULL AND (full_name || ' ' || coalesce(email, '') || ' ' || coalesce(phone, '')) ILIKE '%' || (ARRAY['ivan','kim','rossi','tanaka'])[:n] || '%' ORDER BY created_at, id LIMIT 50;
