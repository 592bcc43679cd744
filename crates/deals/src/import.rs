//! Deals written by an import, a batch at a time and set-based: every row meets the rules of
//! `create_deal` (validation, amount, custom fields, links the actor may make, placement at the
//! end of its stage), rows that do not are reported with their field errors, and the good
//! ones are inserted with one statement and one statement of timeline entries.
//!
//! A file names what a deal hangs on the way people write it: the pipeline and the stage by
//! name (or id), the contact by e-mail or phone, the company by name (created when missing,
//! as a contact import does), the assignee by e-mail.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use crm_core::{
    Actor, CompanyId, ContactId, DealId, EntityRef, FieldError, Permission, PipelineId, StageId,
    UserId, checks,
};
use crm_custom_fields::{CustomFieldEntity, FieldSet, gather};
use crm_db::AsyncPgConnection;
use crm_db::import_keys::UpsertBy;
use crm_db::schema::{contacts, deals, pipelines, stages};
use crm_pipelines::StageType;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use crate::error::DealError;
use crate::input::{CreateDeal, DealStatus, UpdateDeal};
use crate::model::{Deal, DealRow};
use crate::placement::STEP;

/// One row of a deals file, as a new deal. The ids of `input` are not read: what the deal
/// hangs on comes from the names.
#[derive(Debug, Clone, Default)]
pub struct ImportRow {
    /// Line number in the file (header = 1).
    pub line: u64,
    /// The deal's own fields.
    pub input: CreateDeal,
    /// The pipeline by name or id (default: the default pipeline, or the stage's).
    pub pipeline: Option<String>,
    /// The stage by name or id, in the pipeline (default: its first open stage).
    pub stage: Option<String>,
    /// The contact by e-mail.
    pub contact_email: Option<String>,
    /// The contact by phone, when no e-mail is given.
    pub contact_phone: Option<String>,
    /// The company by name (found, or created when missing).
    pub company_name: Option<String>,
    /// The assignee by e-mail (an active user).
    pub assignee_email: Option<String>,
    /// The deal's number: which deal the row updates when the import upserts by number
    /// (a new deal's number comes from the sequence).
    pub number: Option<String>,
}

pub use crm_db::import_keys::BatchOutcome;

/// A deal ready to insert.
#[derive(Debug, Clone)]
struct DealValues {
    title: String,
    amount: Option<bigdecimal::BigDecimal>,
    currency: String,
    stage: StageId,
    pipeline: PipelineId,
    status: DealStatus,
    contact: Option<ContactId>,
    company: Option<CompanyId>,
    assignee: Option<UserId>,
    expected_close_at: Option<chrono::DateTime<Utc>>,
    lost_reason: Option<String>,
    description: Option<String>,
    tags: Vec<String>,
    custom_fields: serde_json::Value,
}

fn given(cell: &Option<String>) -> Option<&str> {
    cell.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Imports `rows` as new deals in the caller's transaction (`deals.write`). `import` is the
/// import's id, named by every deal's timeline entry. With `dry_run` the checks run exactly as
/// they would and nothing but the import's own bookkeeping is written. With `upsert` =
/// `Number`, a row whose number is a live deal the actor may read updates that deal
/// (`update_deal`'s rules: filled cells change, a stage or pipeline cell moves it) instead.
pub async fn import_batch(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    import: Uuid,
    rows: Vec<ImportRow>,
    dry_run: bool,
    upsert: Option<UpsertBy>,
) -> Result<BatchOutcome, DealError> {
    actor.require(Permission::DealsWrite)?;
    let fields = FieldSet::for_write(conn, CustomFieldEntity::Deal).await?;
    let board = Board::load(conn).await?;
    let people = People::load(conn, actor, &rows, dry_run).await?;
    let mut outcome = BatchOutcome::default();
    let rows = match upsert {
        Some(UpsertBy::Number) => {
            let matched = Matched {
                actor,
                board: &board,
                people: &people,
            };
            matched
                .update(conn, import, rows, dry_run, &mut outcome)
                .await?
        }
        _ => rows,
    };
    let mut valid = Vec::with_capacity(rows.len());
    for row in rows {
        let mut errors = checks::errors(&row.input);
        let stage = board
            .place(given(&row.pipeline), given(&row.stage))
            .map_err(|(field, message)| errors.push(FieldError::new(field, message)))
            .ok();
        let links = people.links_of(&row, &mut errors);
        let custom = gather(
            fields.validate_create(row.input.custom_fields.as_ref()),
            &mut errors,
        )?;
        let amount = match &row.input.amount {
            Some(a) if errors.is_empty() => crate::amount::parse_amount(a).ok().flatten(),
            _ => None,
        };
        let Some(stage) = stage.filter(|_| errors.is_empty()) else {
            errors.sort_by(|a, b| a.field.cmp(&b.field));
            outcome.failures.push((row.line, errors));
            continue;
        };
        let input = row.input;
        valid.push((
            row.line,
            DealValues {
                title: input.title.trim().to_owned(),
                amount,
                currency: input.currency.unwrap_or_else(|| "USD".to_owned()),
                stage: stage.id,
                pipeline: stage.pipeline_id,
                status: DealStatus::from(stage.kind),
                contact: links.0,
                company: links.1,
                assignee: links.2,
                expected_close_at: input.expected_close_at,
                lost_reason: stored_text(input.lost_reason),
                description: stored_text(input.description),
                tags: crm_core::tags::normalize_tags(&input.tags).unwrap_or(input.tags),
                custom_fields: custom,
            },
        ));
    }
    // A unique custom field's value taken refuses a row.
    let (created, refused) =
        crm_db::import_keys::write_rows(conn, &Writer { actor, import }, valid, dry_run).await?;
    outcome.created = created;
    outcome.failures.extend(refused);
    Ok(outcome)
}

fn stored_text(raw: Option<String>) -> Option<String> {
    raw.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty())
}

#[derive(Debug, Clone, Queryable)]
struct StageEntry {
    id: StageId,
    pipeline_id: PipelineId,
    name: String,
    kind: StageType,
}

/// Every pipeline and stage (a board has tens, not thousands): rows are placed without a
/// statement each.
struct Board {
    pipelines: Vec<(PipelineId, String, bool)>,
    /// In board order.
    stages: Vec<StageEntry>,
}

type Refusal = (&'static str, String);

impl Board {
    async fn load(conn: &mut AsyncPgConnection) -> Result<Self, DealError> {
        let pipelines = pipelines::table
            .select((pipelines::id, pipelines::name, pipelines::is_default))
            .order((pipelines::position.asc(), pipelines::id.asc()))
            .load(conn)
            .await?;
        let stages = stages::table
            .select((stages::id, stages::pipeline_id, stages::name, stages::kind))
            .order((stages::position.asc(), stages::id.asc()))
            .load(conn)
            .await?;
        Ok(Self { pipelines, stages })
    }

    /// The pipeline a cell names: by id, or by name ignoring case.
    fn pipeline(&self, cell: &str) -> Result<PipelineId, Refusal> {
        let by_id = cell.parse::<Uuid>().ok().map(PipelineId);
        let hits: Vec<PipelineId> = self
            .pipelines
            .iter()
            .filter(|(id, name, _)| Some(*id) == by_id || same_name(name, cell))
            .map(|(id, _, _)| *id)
            .collect();
        match hits.as_slice() {
            [one] => Ok(*one),
            [] => Err(("pipeline", format!("no pipeline is named {cell:?}"))),
            _ => Err(("pipeline", format!("several pipelines are named {cell:?}"))),
        }
    }

    fn default_pipeline(&self) -> Result<PipelineId, Refusal> {
        self.pipelines
            .iter()
            .find(|(_, _, default)| *default)
            .map(|(id, _, _)| *id)
            .ok_or((
                "pipeline",
                "no pipeline is the default: name the pipeline".to_owned(),
            ))
    }

    /// The stage a deal goes to: the named one (in the named pipeline, else in the default
    /// one, else the only stage of that name anywhere), or the pipeline's first open stage.
    fn place(&self, pipeline: Option<&str>, stage: Option<&str>) -> Result<&StageEntry, Refusal> {
        let pipeline = pipeline.map(|p| self.pipeline(p)).transpose()?;
        let Some(cell) = stage else {
            let pipeline = match pipeline {
                Some(p) => p,
                None => self.default_pipeline()?,
            };
            return self
                .stages
                .iter()
                .find(|s| s.pipeline_id == pipeline && s.kind == StageType::Open)
                .ok_or(("stage", "the pipeline has no open stage".to_owned()));
        };
        let by_id = cell.parse::<Uuid>().ok().map(StageId);
        let named = |s: &&StageEntry| Some(s.id) == by_id || same_name(&s.name, cell);
        let within = |p: PipelineId| -> Vec<&StageEntry> {
            self.stages
                .iter()
                .filter(|s| s.pipeline_id == p)
                .filter(named)
                .collect()
        };
        let hits = match pipeline {
            Some(p) => within(p),
            None => {
                let in_default = self.default_pipeline().map(within).unwrap_or_default();
                if in_default.is_empty() {
                    self.stages.iter().filter(named).collect()
                } else {
                    in_default
                }
            }
        };
        match hits.as_slice() {
            [one] => Ok(one),
            [] if pipeline.is_some() => {
                Err(("stage", format!("the pipeline has no stage named {cell:?}")))
            }
            [] => Err(("stage", format!("no stage is named {cell:?}"))),
            _ => Err((
                "stage",
                format!("several pipelines have a stage named {cell:?}: name the pipeline"),
            )),
        }
    }
}

fn same_name(name: &str, cell: &str) -> bool {
    name.trim().to_lowercase() == cell.to_lowercase()
}

/// The contacts, companies and users a batch names, found once for the whole batch.
struct People {
    by_email: HashMap<String, ContactId>,
    by_phone: HashMap<String, ContactId>,
    companies: HashMap<String, Result<CompanyId, String>>,
    users: HashMap<String, UserId>,
}

impl People {
    async fn load(
        conn: &mut AsyncPgConnection,
        actor: &Actor,
        rows: &[ImportRow],
        dry_run: bool,
    ) -> Result<Self, DealError> {
        let phones: Vec<String> = rows
            .iter()
            .filter(|r| given(&r.contact_email).is_none())
            .filter_map(|r| given(&r.contact_phone))
            .filter_map(|p| crm_core::normalize::phone(p).ok())
            .collect();
        let live = || {
            contacts::table
                .filter(contacts::deleted_at.is_null())
                .filter(crm_db::visibility::contacts(actor))
        };
        let by_email = crm_db::links::contacts_by_email(
            conn,
            actor,
            rows.iter().filter_map(|r| given(&r.contact_email)),
        )
        .await?;
        let mut by_phone = HashMap::new();
        if !phones.is_empty() {
            // Phones are not unique: the most recently updated contact wins.
            let found: Vec<(ContactId, String)> = live()
                .filter(contacts::phone.assume_not_null().eq_any(&phones))
                .order(contacts::updated_at.asc())
                .select((contacts::id, contacts::phone.assume_not_null()))
                .for_share()
                .load(conn)
                .await?;
            by_phone = found.into_iter().map(|(id, p)| (p, id)).collect();
        }
        let names: Vec<String> = rows
            .iter()
            .filter_map(|r| given(&r.company_name).map(str::to_owned))
            .collect();
        // A dry run must not create companies, so it only looks.
        let companies = if dry_run {
            crm_companies::import::find_names(conn, actor, &names).await
        } else {
            crm_companies::import::resolve_names(conn, actor, &names).await
        }
        .map_err(company_failure)?;
        let users = crm_db::links::active_users_by_email(
            conn,
            rows.iter().filter_map(|r| given(&r.assignee_email)),
        )
        .await?;
        // Companies found by name were checked readable; a created one is new.
        Ok(Self {
            by_email,
            by_phone,
            companies,
            users,
        })
    }

    /// The row's contact, company and assignee, or field errors for those it names in vain.
    fn links_of(
        &self,
        row: &ImportRow,
        errors: &mut Vec<FieldError>,
    ) -> (Option<ContactId>, Option<CompanyId>, Option<UserId>) {
        let contact = if let Some(email) = given(&row.contact_email) {
            let found = self.by_email.get(&email.to_lowercase()).copied();
            if found.is_none() {
                errors.push(FieldError::new(
                    "contactEmail",
                    "no contact you may see has this e-mail",
                ));
            }
            found
        } else if let Some(phone) = given(&row.contact_phone) {
            let found = crm_core::normalize::phone(phone)
                .ok()
                .and_then(|p| self.by_phone.get(&p).copied());
            if found.is_none() {
                errors.push(FieldError::new(
                    "contactPhone",
                    "no contact you may see has this phone number",
                ));
            }
            found
        } else {
            None
        };
        let company = given(&row.company_name).and_then(|name| {
            match self.companies.get(&crm_companies::import::name_key(name)) {
                Some(Ok(id)) => Some(*id),
                Some(Err(why)) => {
                    errors.push(FieldError::new("companyName", why.clone()));
                    None
                }
                // Only a dry run leaves a name unresolved: the real run would create it.
                None => None,
            }
        });
        let assignee = given(&row.assignee_email).and_then(|email| {
            let found = self.users.get(&email.to_lowercase()).copied();
            if found.is_none() {
                errors.push(FieldError::new(
                    "assigneeEmail",
                    "no active user has this e-mail (or this name or login)",
                ));
            }
            found
        });
        (contact, company, assignee)
    }
}

fn company_failure(e: crm_companies::CompanyError) -> DealError {
    match e {
        crm_companies::CompanyError::Db(e) => DealError::Db(e),
        other => DealError::Invalid(vec![FieldError::new("companyName", other.to_string())]),
    }
}

/// Rows per INSERT: 20 parameters each, below PostgreSQL's 65 535 per statement.
const ROWS_PER_STATEMENT: usize = 1000;

async fn insert(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    import: Uuid,
    rows: Vec<(u64, DealValues)>,
) -> Result<u64, DealError> {
    if rows.is_empty() {
        return Ok(0);
    }
    crm_db::import_keys::register_tags(conn, rows.iter().flat_map(|(_, v)| &v.tags)).await?;
    // The stages' order changes: their rows are locked (sorted, like every such write), then
    // each new deal goes to the end of its stage.
    let mut stage_ids: Vec<StageId> = rows.iter().map(|(_, v)| v.stage).collect();
    stage_ids.sort_unstable();
    stage_ids.dedup();
    let locked: Vec<StageId> = stages::table
        .filter(stages::id.eq_any(&stage_ids))
        .order(stages::id.asc())
        .select(stages::id)
        .for_update()
        .load(conn)
        .await?;
    let ends: Vec<(StageId, Option<i64>)> = deals::table
        .filter(deals::stage_id.eq_any(&locked))
        .filter(deals::deleted_at.is_null())
        .group_by(deals::stage_id)
        .select((deals::stage_id, diesel::dsl::max(deals::position)))
        .load(conn)
        .await?;
    let mut next: HashMap<StageId, i64> = ends
        .into_iter()
        .map(|(id, last)| (id, last.map_or(0, |k| k.saturating_add(STEP))))
        .collect();
    let present: HashSet<StageId> = locked.into_iter().collect();
    let now = Utc::now();
    let mut values = Vec::with_capacity(rows.len());
    for (_, v) in rows {
        if !present.contains(&v.stage) {
            // Deleted since the board was read.
            return Err(DealError::UnknownStage(v.stage));
        }
        let slot = next.entry(v.stage).or_insert(0);
        let position = *slot;
        *slot = slot.saturating_add(STEP);
        values.push((
            (
                deals::id.eq(DealId::new()),
                deals::title.eq(v.title),
                deals::amount.eq(v.amount),
                deals::currency.eq(v.currency),
                deals::pipeline_id.eq(v.pipeline),
                deals::stage_id.eq(v.stage),
                deals::position.eq(position),
                deals::status.eq(v.status.as_str()),
                deals::contact_id.eq(v.contact),
                deals::company_id.eq(v.company),
            ),
            (
                deals::assigned_to_id.eq(v.assignee),
                deals::created_by_id.eq(actor.user_id),
                deals::expected_close_at.eq(v.expected_close_at),
                deals::closed_at.eq((v.status != DealStatus::Open).then_some(now)),
                deals::lost_reason.eq(v.lost_reason),
                deals::description.eq(v.description),
                deals::tags.eq(v.tags),
                deals::custom_fields.eq(v.custom_fields),
                deals::created_at.eq(now),
                deals::updated_at.eq(now),
            ),
        ));
    }
    let mut written: Vec<Deal> = Vec::with_capacity(values.len());
    for chunk in values.chunks(ROWS_PER_STATEMENT) {
        let inserted: Vec<DealRow> = diesel::insert_into(deals::table)
            .values(chunk)
            .returning(DealRow::as_returning())
            .get_results(conn)
            .await?;
        written.extend(inserted.into_iter().map(Deal::from));
    }
    let shown = written.iter().map(|d| {
        (
            EntityRef::of(d.id),
            serde_json::to_value(d).unwrap_or_default(),
        )
    });
    crm_activity::record_imported(conn, actor, import, "deal.created", shown).await?;
    Ok(written.len() as u64)
}

/// Inserts an import's checked rows for [`crm_db::import_keys::write_rows`].
struct Writer<'a> {
    actor: &'a Actor,
    import: Uuid,
}

impl crm_db::import_keys::BatchWriter for Writer<'_> {
    type Row = DealValues;
    type Error = DealError;

    async fn insert(
        &self,
        conn: &mut AsyncPgConnection,
        rows: Vec<(u64, DealValues)>,
    ) -> Result<u64, DealError> {
        insert(conn, self.actor, self.import, rows).await
    }
}

/// A deal number as a file writes it: `42`, `#42`, `№ 42`.
pub fn number_of(cell: &str) -> Option<i64> {
    cell.trim()
        .trim_start_matches(['#', '№'])
        .trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
}

/// What finds and updates the deals rows of an upserting import match.
struct Matched<'a> {
    actor: &'a Actor,
    board: &'a Board,
    people: &'a People,
}

impl Matched<'_> {
    /// Updates the deals rows match by number; the rows left create.
    async fn update(
        &self,
        conn: &mut AsyncPgConnection,
        import: Uuid,
        rows: Vec<ImportRow>,
        dry_run: bool,
        outcome: &mut BatchOutcome,
    ) -> Result<Vec<ImportRow>, DealError> {
        let mut keyed = Vec::with_capacity(rows.len());
        for row in rows {
            match given(&row.number).map(|cell| number_of(cell).ok_or(cell)) {
                Some(Err(_)) => outcome.failures.push((
                    row.line,
                    vec![FieldError::new("number", "is not a deal number")],
                )),
                Some(Ok(n)) => keyed.push((row.line, Some(n.to_string()), row)),
                None => keyed.push((row.line, None, row)),
            }
        }
        let numbers: Vec<i64> = keyed
            .iter()
            .filter_map(|(_, k, _)| k.as_ref()?.parse().ok())
            .collect();
        let found: Vec<(i64, DealId)> = if numbers.is_empty() {
            Vec::new()
        } else {
            deals::table
                .filter(deals::number.eq_any(&numbers))
                .filter(deals::deleted_at.is_null())
                .filter(crm_db::visibility::deals(self.actor))
                .select((deals::number, deals::id))
                .load(conn)
                .await?
        };
        let existing: HashMap<String, Vec<DealId>> = found
            .into_iter()
            .map(|(n, id)| (n.to_string(), vec![id]))
            .collect();
        let sorted = crm_db::import_keys::sort_upserts(conn, import, keyed, &existing).await?;
        for (line, clash) in sorted.clashes {
            outcome
                .failures
                .push((line, vec![clash.error("number", "deals")]));
        }
        let mut updates = Vec::with_capacity(sorted.update.len());
        for (line, id, row) in sorted.update {
            match self.patch_of(row) {
                Ok(patch) => updates.push((line, id, patch)),
                Err(errors) => outcome.failures.push((line, errors)),
            }
        }
        let updater = Updater { actor: self.actor };
        let (updated, refused) =
            crm_db::import_keys::update_rows(conn, &updater, updates, dry_run).await?;
        outcome.updated = updated;
        outcome.failures.extend(refused);
        Ok(sorted.create.into_iter().map(|(_, row)| row).collect())
    }

    /// A row as the change it makes to the deal it matches: every filled cell, nothing else;
    /// a stage (or a pipeline alone) moves the deal as a PATCH does.
    fn patch_of(&self, row: ImportRow) -> Result<UpdateDeal, Vec<FieldError>> {
        let mut errors = Vec::new();
        let (pipeline, stage) = (given(&row.pipeline), given(&row.stage));
        let mut placed = (None, None);
        if pipeline.is_some() || stage.is_some() {
            match self.board.place(pipeline, stage) {
                Ok(s) if stage.is_some() => placed = (Some(s.pipeline_id), Some(s.id)),
                Ok(s) => placed = (Some(s.pipeline_id), None),
                Err((field, message)) => errors.push(FieldError::new(field, message)),
            }
        }
        let (contact, company, assignee) = self.people.links_of(&row, &mut errors);
        if !errors.is_empty() {
            return Err(errors);
        }
        let input = row.input;
        let title = input.title.trim().to_owned();
        Ok(UpdateDeal {
            title: (!title.is_empty()).then_some(title),
            amount: input.amount.map(Some),
            currency: input.currency,
            pipeline_id: placed.0,
            stage_id: placed.1,
            contact_id: contact.map(Some),
            company_id: company.map(Some),
            assigned_to_id: assignee.map(Some),
            expected_close_at: input.expected_close_at.map(Some),
            lost_reason: input.lost_reason.map(Some),
            description: input.description.map(Some),
            tags: (!input.tags.is_empty()).then_some(input.tags),
            custom_fields: input.custom_fields,
        })
    }
}

/// Updates a matched deal for [`crm_db::import_keys::update_rows`].
struct Updater<'a> {
    actor: &'a Actor,
}

impl crm_db::import_keys::RowUpdater for Updater<'_> {
    type Id = DealId;
    type Row = UpdateDeal;
    type Error = DealError;

    async fn update(
        &self,
        conn: &mut AsyncPgConnection,
        id: DealId,
        row: UpdateDeal,
    ) -> Result<(), DealError> {
        crate::service::update_deal(conn, self.actor, id, row, None)
            .await
            .map(drop)
    }
}
