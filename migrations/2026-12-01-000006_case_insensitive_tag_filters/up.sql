-- Tags match case-insensitively everywhere, as the registry does. A GIN index on the lower-cased
-- array serves `tag=` list filters and the registry's rename, merge and delete rewrites.
CREATE FUNCTION crm_lower_tags(tags text[]) RETURNS text[]
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    AS $$ SELECT coalesce(array_agg(lower(t)), '{}') FROM unnest(tags) AS t $$;

DROP INDEX companies_tags_idx;
DROP INDEX contacts_tags_idx;
DROP INDEX deals_tags_idx;
CREATE INDEX companies_tags_idx ON companies USING gin (crm_lower_tags(tags));
CREATE INDEX contacts_tags_idx ON contacts USING gin (crm_lower_tags(tags));
CREATE INDEX deals_tags_idx ON deals USING gin (crm_lower_tags(tags));
CREATE INDEX tasks_tags_idx ON tasks USING gin (crm_lower_tags(tags));
