\set lo random(0, 99) * 10
SELECT * FROM users WHERE id = (SELECT id FROM bench_users LIMIT 1);
SELECT * FROM custom_field_definitions WHERE entity_type = 'deal' ORDER BY position, id;
SELECT count(*) FROM deals WHERE deleted_at IS NULL AND (deals.custom_fields -> 'score') >= (:lo)::text::jsonb AND (deals.custom_fields -> 'score') < (:lo + 10)::text::jsonb;
SELECT * FROM deals WHERE deleted_at IS NULL AND (deals.custom_fields -> 'score') >= (:lo)::text::jsonb AND (deals.custom_fields -> 'score') < (:lo + 10)::text::jsonb ORDER BY created_at, id LIMIT 50;
