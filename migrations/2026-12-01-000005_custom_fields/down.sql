-- Per-field indexes created by the definition service go with their definitions.
DO $$
DECLARE i record;
BEGIN
    FOR i IN SELECT indexname FROM pg_indexes
             WHERE schemaname = current_schema() AND indexname ~ '^cfu?_(contacts|companies|deals|tasks)_'
    LOOP
        EXECUTE format('DROP INDEX %I', i.indexname);
    END LOOP;
END $$;
DROP INDEX tasks_custom_fields_idx;
DROP INDEX deals_custom_fields_idx;
DROP INDEX companies_custom_fields_idx;
DROP INDEX contacts_custom_fields_idx;
DROP TABLE custom_field_archive;
DROP TABLE custom_field_definitions;
