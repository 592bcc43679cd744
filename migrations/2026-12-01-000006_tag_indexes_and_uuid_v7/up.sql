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

-- UUID v7 (millisecond time prefix, random rest) for rows written by set-based statements, so
-- their ids sort by creation like the ids the services make.
CREATE FUNCTION crm_uuid_v7() RETURNS uuid
    LANGUAGE sql VOLATILE PARALLEL SAFE
    AS $$
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send((extract(epoch FROM clock_timestamp()) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
    $$;
