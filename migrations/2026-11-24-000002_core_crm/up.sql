-- The core CRM: pipelines and stages, companies, contacts, deals, tasks, comments, tags, the
-- activity log and stored idempotent responses.

CREATE EXTENSION IF NOT EXISTS pg_trgm;

-- Activity: written by the services in the same transaction as the change.
CREATE TABLE activity (
    id          uuid PRIMARY KEY,
    entity_type text NOT NULL,
    entity_id   uuid NOT NULL,
    type        text NOT NULL,
    actor_id    uuid REFERENCES users (id) ON DELETE SET NULL,
    api_key_id  uuid REFERENCES api_keys (id) ON DELETE SET NULL,
    changes     jsonb NOT NULL DEFAULT '[]',
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX activity_entity_idx ON activity (entity_type, entity_id, created_at DESC, id DESC);
CREATE INDEX activity_feed_idx ON activity (created_at DESC, id DESC);

-- Responses replayed for a repeated Idempotency-Key (24 h).
CREATE TABLE idempotency_keys (
    principal     text NOT NULL,
    key           text NOT NULL,
    request_hash  bytea NOT NULL,
    status        smallint,
    response      jsonb,
    created_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (principal, key)
);
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);

-- Tag registry; records carry tag names in text[] columns.
CREATE TABLE tags (
    id         uuid PRIMARY KEY,
    name       text NOT NULL,
    color      text NOT NULL DEFAULT '#9e9e9e',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    version    integer NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX tags_name_key ON tags (lower(name));

CREATE TABLE pipelines (
    id          uuid PRIMARY KEY,
    name        text NOT NULL,
    description text,
    is_default  boolean NOT NULL DEFAULT false,
    position    integer NOT NULL DEFAULT 0,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    version     integer NOT NULL DEFAULT 1
);
-- Exactly one default pipeline: at most one by this index, at least one by the services.
CREATE UNIQUE INDEX pipelines_one_default ON pipelines ((true)) WHERE is_default;

CREATE TABLE stages (
    id          uuid PRIMARY KEY,
    pipeline_id uuid NOT NULL REFERENCES pipelines (id) ON DELETE CASCADE,
    name        text NOT NULL,
    position    integer NOT NULL,
    color       text NOT NULL DEFAULT '#9e9e9e',
    type        text NOT NULL DEFAULT 'OPEN' CHECK (type IN ('OPEN', 'WON', 'LOST')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    version     integer NOT NULL DEFAULT 1
);
CREATE INDEX stages_pipeline_idx ON stages (pipeline_id, position);

CREATE TABLE companies (
    id            uuid PRIMARY KEY,
    name          text NOT NULL,
    website       text,
    industry      text,
    email         text,
    phone         text,
    address       text,
    employees     integer,
    notes         text,
    tags          text[] NOT NULL DEFAULT '{}',
    custom_fields jsonb NOT NULL DEFAULT '{}',
    owner_id      uuid REFERENCES users (id) ON DELETE SET NULL,
    created_by_id uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz,
    version       integer NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX companies_name_key ON companies (lower(name)) WHERE deleted_at IS NULL;
CREATE INDEX companies_name_trgm ON companies USING gin (name gin_trgm_ops);
CREATE INDEX companies_tags_idx ON companies USING gin (tags);
CREATE INDEX companies_created_idx ON companies (created_at, id);
CREATE INDEX companies_updated_idx ON companies (updated_at, id);

CREATE TABLE contacts (
    id            uuid PRIMARY KEY,
    full_name     text NOT NULL,
    email         text,
    phone         text,
    position      text,
    company_id    uuid REFERENCES companies (id) ON DELETE SET NULL,
    tags          text[] NOT NULL DEFAULT '{}',
    notes         text,
    social        jsonb NOT NULL DEFAULT '{}',
    custom_fields jsonb NOT NULL DEFAULT '{}',
    owner_id      uuid REFERENCES users (id) ON DELETE SET NULL,
    created_by_id uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz,
    version       integer NOT NULL DEFAULT 1
);
CREATE UNIQUE INDEX contacts_email_key ON contacts (lower(email)) WHERE deleted_at IS NULL AND email IS NOT NULL;
CREATE INDEX contacts_search_trgm ON contacts USING gin ((full_name || ' ' || coalesce(email, '') || ' ' || coalesce(phone, '')) gin_trgm_ops);
CREATE INDEX contacts_company_idx ON contacts (company_id);
CREATE INDEX contacts_owner_idx ON contacts (owner_id);
CREATE INDEX contacts_tags_idx ON contacts USING gin (tags);
CREATE INDEX contacts_created_idx ON contacts (created_at, id);
CREATE INDEX contacts_updated_idx ON contacts (updated_at, id);

CREATE SEQUENCE deal_number_seq;
CREATE TABLE deals (
    id                uuid PRIMARY KEY,
    number            bigint NOT NULL DEFAULT nextval('deal_number_seq'),
    title             text NOT NULL,
    amount            numeric(20, 2),
    currency          text NOT NULL DEFAULT 'USD',
    pipeline_id       uuid NOT NULL REFERENCES pipelines (id),
    stage_id          uuid NOT NULL REFERENCES stages (id),
    position          integer NOT NULL DEFAULT 0,
    status            text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'won', 'lost')),
    contact_id        uuid REFERENCES contacts (id) ON DELETE SET NULL,
    company_id        uuid REFERENCES companies (id) ON DELETE SET NULL,
    assigned_to_id    uuid REFERENCES users (id) ON DELETE SET NULL,
    created_by_id     uuid REFERENCES users (id) ON DELETE SET NULL,
    expected_close_at timestamptz,
    closed_at         timestamptz,
    lost_reason       text,
    description       text,
    tags              text[] NOT NULL DEFAULT '{}',
    custom_fields     jsonb NOT NULL DEFAULT '{}',
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    deleted_at        timestamptz,
    version           integer NOT NULL DEFAULT 1
);
ALTER SEQUENCE deal_number_seq OWNED BY deals.number;
CREATE UNIQUE INDEX deals_number_key ON deals (number);
CREATE INDEX deals_stage_position_idx ON deals (stage_id, position) WHERE deleted_at IS NULL;
CREATE INDEX deals_pipeline_idx ON deals (pipeline_id);
CREATE INDEX deals_contact_idx ON deals (contact_id);
CREATE INDEX deals_company_idx ON deals (company_id);
CREATE INDEX deals_assigned_idx ON deals (assigned_to_id);
CREATE INDEX deals_title_trgm ON deals USING gin (title gin_trgm_ops);
CREATE INDEX deals_tags_idx ON deals USING gin (tags);
CREATE INDEX deals_created_idx ON deals (created_at, id);
CREATE INDEX deals_updated_idx ON deals (updated_at, id);

CREATE TABLE tasks (
    id             uuid PRIMARY KEY,
    title          text NOT NULL,
    description    text,
    status         text NOT NULL DEFAULT 'TODO' CHECK (status IN ('TODO', 'IN_PROGRESS', 'DONE', 'CANCELLED')),
    priority       text NOT NULL DEFAULT 'MEDIUM' CHECK (priority IN ('LOW', 'MEDIUM', 'HIGH', 'URGENT')),
    type           text NOT NULL DEFAULT 'OTHER' CHECK (type IN ('CALL', 'MEETING', 'FOLLOW_UP', 'EMAIL', 'OTHER')),
    due_at         timestamptz,
    completed_at   timestamptz,
    deal_id        uuid REFERENCES deals (id) ON DELETE SET NULL,
    contact_id     uuid REFERENCES contacts (id) ON DELETE SET NULL,
    assigned_to_id uuid REFERENCES users (id) ON DELETE SET NULL,
    created_by_id  uuid REFERENCES users (id) ON DELETE SET NULL,
    tags           text[] NOT NULL DEFAULT '{}',
    custom_fields  jsonb NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    deleted_at     timestamptz,
    version        integer NOT NULL DEFAULT 1
);
CREATE INDEX tasks_deal_idx ON tasks (deal_id);
CREATE INDEX tasks_contact_idx ON tasks (contact_id);
CREATE INDEX tasks_assigned_due_idx ON tasks (assigned_to_id, due_at);
CREATE INDEX tasks_due_idx ON tasks (due_at) WHERE status IN ('TODO', 'IN_PROGRESS');
CREATE INDEX tasks_title_trgm ON tasks USING gin (title gin_trgm_ops);
CREATE INDEX tasks_created_idx ON tasks (created_at, id);
CREATE INDEX tasks_updated_idx ON tasks (updated_at, id);

CREATE TABLE comments (
    id          uuid PRIMARY KEY,
    entity_type text NOT NULL CHECK (entity_type IN ('deal', 'contact', 'task')),
    entity_id   uuid NOT NULL,
    author_id   uuid REFERENCES users (id) ON DELETE SET NULL,
    type        text NOT NULL DEFAULT 'COMMENT' CHECK (type IN ('COMMENT', 'INTERNAL_NOTE')),
    content     text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    version     integer NOT NULL DEFAULT 1
);
CREATE INDEX comments_entity_idx ON comments (entity_type, entity_id, created_at, id);

-- A new deployment starts with one default pipeline.
WITH p AS (
    INSERT INTO pipelines (id, name, description, is_default, position)
    VALUES (gen_random_uuid(), 'Sales', 'Default sales pipeline', true, 0)
    RETURNING id
)
INSERT INTO stages (id, pipeline_id, name, position, color, type)
SELECT gen_random_uuid(), p.id, s.name, s.position, s.color, s.type
FROM p, (VALUES
    ('New', 0, '#90caf9', 'OPEN'),
    ('Qualified', 1, '#80deea', 'OPEN'),
    ('Proposal', 2, '#a5d6a7', 'OPEN'),
    ('Negotiation', 3, '#ffe082', 'OPEN'),
    ('Won', 4, '#66bb6a', 'WON'),
    ('Lost', 5, '#ef5350', 'LOST')
) AS s (name, position, color, type);
