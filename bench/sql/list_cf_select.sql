\set n random(1, 6)
SELECT * FROM users WHERE id = (SELECT id FROM bench_users LIMIT 1);
SELECT * FROM custom_field_definitions WHERE entity_type = 'deal' ORDER BY position, id;
SELECT count(*) FROM deals WHERE deleted_at IS NULL AND deals.custom_fields @> (ARRAY['{"segment": "SMB"}', '{"segment": "Mid-Market"}', '{"segment": "Enterprise"}', '{"segment": "Public sector"}', '{"segment": "Non-profit"}', '{"segment": "Startup"}'])[:n]::jsonb;
SELECT * FROM deals WHERE deleted_at IS NULL AND deals.custom_fields @> (ARRAY['{"segment": "SMB"}', '{"segment": "Mid-Market"}', '{"segment": "Enterprise"}', '{"segment": "Public sector"}', '{"segment": "Non-profit"}', '{"segment": "Startup"}'])[:n]::jsonb ORDER BY created_at, id LIMIT 50;
