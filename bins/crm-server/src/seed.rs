//! `crm-server seed-demo`: fills the database with realistic demo data fast — set-based SQL
//! (`generate_series`), one transaction, hundreds of thousands of rows in seconds. Every run
//! adds a new batch (names carry a run tag), so it can be repeated.

use std::time::Instant;

use clap::Args;
use crm_core::Actor;
use crm_custom_fields::{CreateCustomField, CustomFieldEntity, FieldSet};
use crm_db::pool::get_conn;
use crm_record_events::RecordEvents;
use crm_users::Passwords;
use diesel::sql_types::{BigInt, Bool, Text};
use diesel_async::{AsyncConnection, RunQueryDsl};

use crate::StartupError;
use crate::database::Database;

/// How much demo data to add.
#[derive(Debug, Args)]
pub struct SeedArgs {
    /// Users (role MANAGER, password `demo password`).
    #[arg(long, default_value_t = 10)]
    pub users: i64,
    /// Companies.
    #[arg(long, default_value_t = 1_000)]
    pub companies: i64,
    /// Contacts (each with a `contact.created` activity entry).
    #[arg(long, default_value_t = 10_000)]
    pub contacts: i64,
    /// Deals, spread over the default pipeline's stages.
    #[arg(long, default_value_t = 20_000)]
    pub deals: i64,
    /// Tasks.
    #[arg(long, default_value_t = 20_000)]
    pub tasks: i64,
    /// Also define ten deal custom fields, one of each type (kept if they exist), and give
    /// every new deal a value for each.
    #[arg(long)]
    pub deal_custom_fields: bool,
}

/// The demo deal custom fields: key, type, options.
pub const DEAL_CUSTOM_FIELDS: &[(&str, &str, &[&str])] = &[
    (
        "segment",
        "SELECT",
        &[
            "SMB",
            "Mid-Market",
            "Enterprise",
            "Public sector",
            "Non-profit",
            "Startup",
        ],
    ),
    ("score", "NUMBER", &[]),
    ("renewal_date", "DATE", &[]),
    ("signed_at", "DATETIME", &[]),
    ("strategic", "BOOLEAN", &[]),
    (
        "products",
        "MULTI_SELECT",
        &["CRM", "Analytics", "Support", "Training"],
    ),
    ("external_ref", "TEXT", &[]),
    ("website", "URL", &[]),
    ("champion_email", "EMAIL", &[]),
    ("champion_phone", "PHONE", &[]),
];

/// The values of the demo deal custom fields for deal `i` of run `$1`, already in canonical
/// form (the seed writes them without the service; a test checks they validate unchanged).
const DEAL_CUSTOM_FIELD_VALUES: &str = "jsonb_build_object(
    'segment', (ARRAY['SMB','Mid-Market','Enterprise','Public sector','Non-profit','Startup'])[1 + i % 6],
    'score', (i * 7919) % 1000,
    'renewal_date', to_char(date '2026-01-01' + (i % 730)::int, 'YYYY-MM-DD'),
    'signed_at', to_char(timestamp '2025-01-01' + make_interval(mins => i::int), 'YYYY-MM-DD\"T\"HH24:MI:SS') || '.000Z',
    'strategic', i % 5 = 0,
    'products', (ARRAY['[\"CRM\"]', '[\"CRM\", \"Support\"]', '[\"Analytics\"]',
                       '[\"CRM\", \"Analytics\", \"Training\"]', '[\"Support\", \"Training\"]'])[1 + i % 5]::jsonb,
    'external_ref', 'EXT-' || $1 || '-' || i,
    'website', 'https://d' || i || '.example.com/',
    'champion_email', 'champion.' || i || '@example.com',
    'champion_phone', '+1415555' || lpad((i % 10000)::text, 4, '0'))";

/// The statements, in order. `$1` is the run tag; the count of the step is `$2`. Deals get
/// kanban keys after the stage's last deal, `crm_db::kanban::STEP` (65536) apart.
const STEPS: &[(&str, &str)] = &[
    (
        "users",
        "INSERT INTO users (id, email, password_hash, first_name, last_name, role)
         SELECT gen_random_uuid(), 'demo.' || $1 || '.' || i || '@example.com', $3, 'Demo', 'User ' || i, 'MANAGER'
         FROM generate_series(1, $2) AS i",
    ),
    (
        "companies",
        "INSERT INTO companies (id, name, industry, website, tags, owner_id, created_by_id, created_at, updated_at)
         SELECT gen_random_uuid(), 'Company ' || $1 || '-' || i,
                (ARRAY['Software','Retail','Finance','Health','Logistics','Education'])[1 + i % 6],
                'https://c' || i || '.example.com', ARRAY[(ARRAY['vip','lead','partner'])[1 + i % 3]],
                u.id, u.id, now() - make_interval(secs => i), now() - make_interval(secs => i)
         FROM generate_series(1, $2) AS i
         JOIN seed_users u ON u.n = 1 + i % (SELECT count(*) FROM seed_users)",
    ),
    (
        "contacts",
        "INSERT INTO contacts (id, full_name, email, phone, position, company_id, tags, owner_id, created_by_id, created_at, updated_at)
         SELECT gen_random_uuid(), f.name || ' ' || l.name,
                lower(f.name || '.' || l.name || '.' || i || '.' || $1 || '@example.com'),
                '+1415' || lpad((i % 10000000)::text, 7, '0'),
                (ARRAY['CEO','CTO','Buyer','Manager','Engineer'])[1 + i % 5],
                c.id, ARRAY[(ARRAY['vip','lead','partner','cold'])[1 + i % 4]], u.id, u.id,
                now() - make_interval(secs => i), now() - make_interval(secs => i)
         FROM generate_series(1, $2) AS i
         JOIN seed_first f ON f.n = 1 + i % (SELECT count(*) FROM seed_first)
         JOIN seed_last l ON l.n = 1 + (i / 7) % (SELECT count(*) FROM seed_last)
         JOIN seed_companies c ON c.n = 1 + (i * 7919) % (SELECT count(*) FROM seed_companies)
         JOIN seed_users u ON u.n = 1 + i % (SELECT count(*) FROM seed_users)",
    ),
    (
        "deals",
        "INSERT INTO deals (id, title, amount, currency, pipeline_id, stage_id, position, status, closed_at, contact_id,
                           company_id, assigned_to_id, created_by_id, expected_close_at, tags, custom_fields, created_at, updated_at)
         SELECT gen_random_uuid(), 'Deal ' || $1 || '-' || i, round((random() * 100000)::numeric, 2), 'USD',
                s.pipeline_id, s.id, s.base + ((i - 1) / (SELECT count(*) FROM seed_stages)) * 65536, lower(s.type), CASE WHEN s.type = 'OPEN' THEN NULL ELSE now() END,
                ct.id, ct.company_id, u.id, u.id, now() + make_interval(days => (i % 90)::int),
                ARRAY[(ARRAY['vip','lead','partner'])[1 + i % 3]],
                CASE WHEN $4 THEN /*custom fields*/ ELSE '{}'::jsonb END,
                now() - make_interval(secs => i), now() - make_interval(secs => i)
         FROM generate_series(1, $2) AS i
         JOIN seed_stages s ON s.n = 1 + i % (SELECT count(*) FROM seed_stages)
         JOIN seed_contacts ct ON ct.n = 1 + (i * 104729) % (SELECT count(*) FROM seed_contacts)
         JOIN seed_users u ON u.n = 1 + i % (SELECT count(*) FROM seed_users)",
    ),
    (
        "tasks",
        "INSERT INTO tasks (id, title, status, priority, type, due_at, completed_at, deal_id, contact_id, assigned_to_id,
                           created_by_id, created_at, updated_at)
         SELECT gen_random_uuid(), 'Task ' || $1 || '-' || i,
                (ARRAY['TODO','IN_PROGRESS','DONE','CANCELLED'])[1 + i % 4],
                (ARRAY['LOW','MEDIUM','HIGH','URGENT'])[1 + i % 4],
                (ARRAY['CALL','MEETING','FOLLOW_UP','EMAIL','OTHER'])[1 + i % 5],
                now() + make_interval(days => ((i % 60) - 30)::int), CASE WHEN i % 4 = 2 THEN now() END,
                d.id, d.contact_id, u.id, u.id, now() - make_interval(secs => i), now() - make_interval(secs => i)
         FROM generate_series(1, $2) AS i
         JOIN seed_deals d ON d.n = 1 + (i * 7919) % (SELECT count(*) FROM seed_deals)
         JOIN seed_users u ON u.n = 1 + i % (SELECT count(*) FROM seed_users)",
    ),
];

/// Lookup tables mapping 1..n to ids, so rows pick related rows by arithmetic, not by scans.
fn lookup(step: &str) -> Option<&'static str> {
    Some(match step {
        "users" => {
            "CREATE TEMP TABLE seed_users ON COMMIT DROP AS
             SELECT row_number() OVER (ORDER BY id) AS n, id FROM users WHERE is_active"
        }
        "companies" => {
            "CREATE TEMP TABLE seed_companies ON COMMIT DROP AS
             SELECT row_number() OVER (ORDER BY id) AS n, id FROM companies WHERE deleted_at IS NULL"
        }
        "contacts" => {
            "CREATE TEMP TABLE seed_contacts ON COMMIT DROP AS
             SELECT row_number() OVER (ORDER BY id) AS n, id, company_id FROM contacts WHERE deleted_at IS NULL"
        }
        "deals" => {
            "CREATE TEMP TABLE seed_deals ON COMMIT DROP AS
             SELECT row_number() OVER (ORDER BY id) AS n, id, contact_id FROM deals WHERE deleted_at IS NULL"
        }
        _ => return None,
    })
}

const NAMES: &str = "
    CREATE TEMP TABLE seed_first ON COMMIT DROP AS
      SELECT row_number() OVER () AS n, name FROM unnest(ARRAY['Anna','Boris','Chen','Dmitri','Elena','Fatima','George',
        'Hana','Ivan','Julia','Kenji','Lena','Mikhail','Nina','Olga','Pavel','Qiu','Rosa','Sergei','Tanya']) AS name;
    CREATE TEMP TABLE seed_last ON COMMIT DROP AS
      SELECT row_number() OVER () AS n, name FROM unnest(ARRAY['Ivanova','Smith','Müller','Garcia','Kowalski','Tanaka',
        'Petrov','Rossi','Dubois','Novak','Larsen','Silva','Kim','Nguyen','Okafor','Haddad']) AS name;
    CREATE TEMP TABLE seed_stages ON COMMIT DROP AS
      SELECT row_number() OVER (ORDER BY s.position) AS n, s.id, s.pipeline_id, s.type,
             (SELECT coalesce(max(d.position) + 65536, 0) FROM deals d WHERE d.stage_id = s.id) AS base
      FROM stages s JOIN pipelines p ON p.id = s.pipeline_id WHERE p.is_default";

/// Creates the demo deal custom fields that do not exist yet (through the service, so their
/// indexes exist before the deals are written).
async fn define_deal_custom_fields(
    conn: &mut crm_db::AsyncPgConnection,
) -> Result<(), StartupError> {
    let failed = |e: crm_custom_fields::CustomFieldError| StartupError::Config(e.to_string());
    let existing = FieldSet::for_read(conn, CustomFieldEntity::Deal)
        .await
        .map_err(failed)?;
    for (key, kind, options) in DEAL_CUSTOM_FIELDS {
        if existing.field(key).is_some() {
            continue;
        }
        let input: CreateCustomField = serde_json::from_value(serde_json::json!({
            "entityType": "deal", "key": key, "name": key.replace('_', " "), "type": kind,
            "options": options,
        }))
        .map_err(|e| StartupError::Config(e.to_string()))?;
        crm_custom_fields::create_custom_field(conn, &Actor::system(), input, &RecordEvents)
            .await
            .map_err(failed)?;
    }
    Ok(())
}

/// Adds one batch of demo data.
pub async fn seed_demo(
    db: &Database,
    passwords: &Passwords,
    args: SeedArgs,
) -> Result<(), StartupError> {
    let started = Instant::now();
    let hash = passwords.hash("demo password").await?;
    let mut tag_bytes = [0u8; 3];
    getrandom::fill(&mut tag_bytes).map_err(|e| StartupError::Config(e.to_string()))?;
    let tag = tag_bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<String>();
    let counts = [
        args.users,
        args.companies,
        args.contacts,
        args.deals,
        args.tasks,
    ];
    if counts.iter().any(|c| *c < 0) || args.users == 0 && counts[1..].iter().any(|c| *c > 0) {
        return Err(StartupError::Config(
            "counts must be ≥ 0, and records need at least one user".into(),
        ));
    }
    let mut conn = get_conn(&db.pool).await?;
    if args.deal_custom_fields {
        define_deal_custom_fields(&mut conn).await?;
    }
    let q = |e: diesel::result::Error| StartupError::Db(crm_db::DbError::Query(e));
    conn.transaction(async |conn| {
        for statement in NAMES.split(';') {
            diesel::sql_query(statement).execute(conn).await?;
        }
        for ((step, sql), count) in STEPS.iter().zip(counts) {
            let t = Instant::now();
            let rows = if count > 0 {
                diesel::sql_query(sql.replace("/*custom fields*/", DEAL_CUSTOM_FIELD_VALUES))
                    .bind::<Text, _>(&tag)
                    .bind::<BigInt, _>(count)
                    .bind::<Text, _>(hash.as_str())
                    .bind::<Bool, _>(args.deal_custom_fields)
                    .execute(conn)
                    .await?
            } else {
                0
            };
            if let Some(lookup) = lookup(step) {
                diesel::sql_query(lookup).execute(conn).await?;
            }
            println!("{step:>10}: {rows:>8} rows in {:>6} ms", t.elapsed().as_millis());
        }
        diesel::sql_query(
            "INSERT INTO activity (id, entity_type, entity_id, type, actor_id, changes, created_at)
             SELECT gen_random_uuid(), 'contact', c.id, 'contact.created', c.created_by_id,
                    jsonb_build_array(jsonb_build_object('field', 'fullName', 'from', null, 'to', c.full_name)), c.created_at
             FROM contacts c WHERE c.email LIKE '%.' || $1 || '@example.com'",
        )
        .bind::<Text, _>(&tag)
        .execute(conn)
        .await?;
        crm_db::tags::ensure_registered(conn, &["vip".into(), "lead".into(), "partner".into(), "cold".into()]).await?;
        Ok::<_, diesel::result::Error>(())
    })
    .await
    .map_err(q)?;
    // Outside the transaction (VACUUM cannot run in one): fresh statistics, and visibility
    // maps so counts are index-only at once, as they are once autovacuum has passed.
    let t = Instant::now();
    diesel::sql_query("VACUUM (ANALYZE)")
        .execute(&mut conn)
        .await
        .map_err(q)?;
    println!("    vacuum: {:>17} ms", t.elapsed().as_millis());
    println!("seeded batch {tag} in {} ms", started.elapsed().as_millis());
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn seeded_kanban_keys_use_the_kanban_step() {
        assert_eq!(
            crm_deals::POSITION_STEP,
            65536,
            "update the literals in seed.rs"
        );
    }
}
