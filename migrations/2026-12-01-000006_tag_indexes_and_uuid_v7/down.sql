DROP FUNCTION crm_uuid_v7();
DROP INDEX tasks_tags_idx;
DROP INDEX deals_tags_idx;
DROP INDEX contacts_tags_idx;
DROP INDEX companies_tags_idx;
CREATE INDEX companies_tags_idx ON companies USING gin (tags);
CREATE INDEX contacts_tags_idx ON contacts USING gin (tags);
CREATE INDEX deals_tags_idx ON deals USING gin (tags);
DROP FUNCTION crm_lower_tags(text[]);
