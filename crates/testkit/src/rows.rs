//! Records written straight into their tables, for tests of one crate that need another
//! crate's records (a task on a deal, a comment on a trashed contact, a deal at a chosen key)
//! without depending on that crate or going through its rules:
//! `DealRow::new().trashed().insert(&mut conn)`.
//!
//! Services are tested through their own functions; these rows skip activity entries, events
//! and placement on purpose.

use chrono::{DateTime, TimeDelta, Utc};
use crm_core::{ContactId, DealId, PipelineId, StageId, TaskId, UserId};
use crm_db::AsyncPgConnection;
use crm_db::schema::{contacts, deals, pipelines, stages, tasks};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use serde_json::Value;

/// The default pipeline and its first stage (the seeded board of every test database).
pub async fn first_stage(conn: &mut AsyncPgConnection) -> (PipelineId, StageId) {
    stages::table
        .inner_join(pipelines::table)
        .filter(pipelines::is_default.eq(true))
        .order((stages::position, stages::id))
        .select((stages::pipeline_id, stages::id))
        .first(conn)
        .await
        .expect("a default pipeline with a stage")
}

fn trashed_at(trashed: bool) -> Option<DateTime<Utc>> {
    trashed.then(Utc::now)
}

/// A deal row: `Deal`, open, on the default pipeline's first stage at key 0, unless told.
#[derive(Debug, Clone)]
pub struct DealRow {
    title: String,
    place: Option<(PipelineId, StageId)>,
    position: i64,
    status: String,
    amount: Option<String>,
    currency: String,
    custom_fields: Value,
    created_by: Option<UserId>,
    trashed: bool,
}

impl Default for DealRow {
    fn default() -> Self {
        Self::new()
    }
}

impl DealRow {
    /// An open deal titled `Deal`.
    pub fn new() -> Self {
        Self {
            title: "Deal".into(),
            place: None,
            position: 0,
            status: "open".into(),
            amount: None,
            currency: "USD".into(),
            custom_fields: Value::Object(Default::default()),
            created_by: None,
            trashed: false,
        }
    }

    /// On this stage of this pipeline.
    pub fn on(mut self, pipeline: PipelineId, stage: StageId) -> Self {
        self.place = Some((pipeline, stage));
        self
    }

    /// At this sort key.
    pub fn position(mut self, position: i64) -> Self {
        self.position = position;
        self
    }

    /// With this stored status (`open`, `won`, `lost`); a closed one was closed a day ago.
    pub fn status(mut self, status: &str) -> Self {
        self.status = status.into();
        self
    }

    /// With this amount (a decimal string) in `currency`.
    pub fn amount(mut self, amount: Option<&str>, currency: &str) -> Self {
        self.amount = amount.map(str::to_owned);
        self.currency = currency.into();
        self
    }

    /// With these custom-field values.
    pub fn custom_fields(mut self, values: Value) -> Self {
        self.custom_fields = values;
        self
    }

    /// Created by this user.
    pub fn created_by(mut self, user: UserId) -> Self {
        self.created_by = Some(user);
        self
    }

    /// In the trash.
    pub fn trashed(mut self) -> Self {
        self.trashed = true;
        self
    }

    /// Inserts it.
    pub async fn insert(self, conn: &mut AsyncPgConnection) -> DealId {
        let (pipeline, stage) = match self.place {
            Some(place) => place,
            None => first_stage(conn).await,
        };
        let closed_at = (self.status != "open").then(|| Utc::now() - TimeDelta::days(1));
        let id = DealId::new();
        let amount = self
            .amount
            .map(|a| a.parse::<bigdecimal::BigDecimal>().expect("amount"));
        diesel::insert_into(deals::table)
            .values((
                deals::id.eq(id),
                deals::title.eq(self.title),
                deals::amount.eq(amount),
                deals::currency.eq(self.currency),
                deals::pipeline_id.eq(pipeline),
                deals::stage_id.eq(stage),
                deals::position.eq(self.position),
                deals::status.eq(self.status),
                deals::closed_at.eq(closed_at),
                deals::custom_fields.eq(self.custom_fields),
                deals::created_by_id.eq(self.created_by),
                deals::deleted_at.eq(trashed_at(self.trashed)),
            ))
            .execute(conn)
            .await
            .expect("insert deal row");
        id
    }
}

/// A contact row named `C`, unless told.
#[derive(Debug, Clone)]
pub struct ContactRow {
    full_name: String,
    owner: Option<UserId>,
    trashed: bool,
}

impl Default for ContactRow {
    fn default() -> Self {
        Self::new()
    }
}

impl ContactRow {
    /// A live contact named `C` without an owner.
    pub fn new() -> Self {
        Self {
            full_name: "C".into(),
            owner: None,
            trashed: false,
        }
    }

    /// Owned by this user.
    pub fn owner(mut self, user: UserId) -> Self {
        self.owner = Some(user);
        self
    }

    /// In the trash.
    pub fn trashed(mut self) -> Self {
        self.trashed = true;
        self
    }

    /// Inserts it.
    pub async fn insert(self, conn: &mut AsyncPgConnection) -> ContactId {
        let id = ContactId::new();
        diesel::insert_into(contacts::table)
            .values((
                contacts::id.eq(id),
                contacts::full_name.eq(self.full_name),
                contacts::owner_id.eq(self.owner),
                contacts::deleted_at.eq(trashed_at(self.trashed)),
            ))
            .execute(conn)
            .await
            .expect("insert contact row");
        id
    }
}

/// A task row titled `T`, unless told.
#[derive(Debug, Clone)]
pub struct TaskRow {
    title: String,
    trashed: bool,
}

impl Default for TaskRow {
    fn default() -> Self {
        Self::new()
    }
}

impl TaskRow {
    /// A live task titled `T`.
    pub fn new() -> Self {
        Self {
            title: "T".into(),
            trashed: false,
        }
    }

    /// In the trash.
    pub fn trashed(mut self) -> Self {
        self.trashed = true;
        self
    }

    /// Inserts it.
    pub async fn insert(self, conn: &mut AsyncPgConnection) -> TaskId {
        let id = TaskId::new();
        diesel::insert_into(tasks::table)
            .values((
                tasks::id.eq(id),
                tasks::title.eq(self.title),
                tasks::deleted_at.eq(trashed_at(self.trashed)),
            ))
            .execute(conn)
            .await
            .expect("insert task row");
        id
    }
}
