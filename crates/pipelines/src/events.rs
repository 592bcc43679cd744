//! Realtime events of the deals that stage and pipeline operations move in bulk (a deleted
//! stage or pipeline whose deals go elsewhere, a stage whose type changes): per deal
//! `deal.updated`, `deal.field.updated` per changed field and `deal.stage.changed`, to the deal's
//! room and the boards it left and joined, as `crm-deals` emits for a single move.
//!
//! This crate does not depend on `crm-deals` (deals sit above pipelines), so [`DealSnapshot`]
//! reads a deal in exactly the shape the API returns (`crm_deals::Deal`); the black-box test
//! `bulk_moves_emit_the_deal_as_the_api_returns_it` compares the two.

use chrono::{DateTime, Utc};
use crm_core::{Actor, change};
use crm_db::AsyncPgConnection;
use crm_events::{Audience, EventName, NewEvent, Room};
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Int4, Jsonb, Nullable, Text, Timestamptz};
use diesel_async::RunQueryDsl;
use serde::Serialize;
use serde_json::{Value, json};
use uuid::Uuid;

/// A deal as the API shows it, read straight from `deals`.
#[derive(Debug, Clone, QueryableByName, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct DealSnapshot {
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    id: Uuid,
    #[diesel(sql_type = BigInt)]
    number: i64,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Nullable<Text>)]
    amount: Option<String>,
    #[diesel(sql_type = Text)]
    currency: String,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    pipeline_id: Uuid,
    #[diesel(sql_type = diesel::sql_types::Uuid)]
    stage_id: Uuid,
    #[diesel(sql_type = BigInt)]
    position: i64,
    #[diesel(sql_type = Text)]
    status: String,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    contact_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    company_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    assigned_to_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<diesel::sql_types::Uuid>)]
    created_by_id: Option<Uuid>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    expected_close_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    closed_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Nullable<Text>)]
    lost_reason: Option<String>,
    #[diesel(sql_type = Nullable<Text>)]
    description: Option<String>,
    #[diesel(sql_type = Array<Text>)]
    tags: Vec<String>,
    #[diesel(sql_type = Jsonb)]
    custom_fields: Value,
    #[diesel(sql_type = Timestamptz)]
    created_at: DateTime<Utc>,
    #[diesel(sql_type = Timestamptz)]
    updated_at: DateTime<Utc>,
    #[diesel(sql_type = Nullable<Timestamptz>)]
    deleted_at: Option<DateTime<Utc>>,
    #[diesel(sql_type = Int4)]
    version: i32,
}

/// The deals `ids` as they are now, in id order. `amount` is `numeric(20, 2)`, so its text
/// form has the API's two decimals.
pub(crate) async fn snapshot(
    conn: &mut AsyncPgConnection,
    ids: Vec<Uuid>,
) -> QueryResult<Vec<DealSnapshot>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    diesel::sql_query(
        "SELECT id, number, title, amount::text AS amount, currency, pipeline_id, stage_id, \
                position::int8 AS position, status, contact_id, company_id, assigned_to_id, \
                created_by_id, expected_close_at, closed_at, lost_reason, description, tags, \
                custom_fields, created_at, updated_at, deleted_at, version \
         FROM deals WHERE id = ANY($1) ORDER BY id",
    )
    .bind::<Array<diesel::sql_types::Uuid>, _>(ids)
    .load(conn)
    .await
}

/// Appends the events of the deals of `before` that changed since (read again now).
pub(crate) async fn deals_moved(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    before: Vec<DealSnapshot>,
) -> QueryResult<()> {
    let after = snapshot(conn, before.iter().map(|d| d.id).collect()).await?;
    let mut events = Vec::new();
    for (b, a) in before.iter().zip(&after) {
        if b.id != a.id || b.version == a.version {
            continue;
        }
        let data = serde_json::to_value(a).unwrap_or_default();
        let rooms = vec![
            Room::Deal(a.id),
            Room::Pipeline(a.pipeline_id),
            Room::Pipeline(b.pipeline_id),
        ];
        let audience = Audience::deal(a.created_by_id, a.assigned_to_id)
            .with_users([b.created_by_id, b.assigned_to_id]);
        events.push(NewEvent::new(
            EventName::DealUpdated,
            rooms.clone(),
            audience.clone(),
            data.clone(),
        ));
        let before_json = serde_json::to_value(b).unwrap_or_default();
        for c in change::diff(&before_json, &data) {
            events.push(NewEvent::new(
                EventName::DealFieldUpdated,
                rooms.clone(),
                audience.clone(),
                json!({"dealId": a.id, "field": c.field, "from": c.from, "to": c.to}),
            ));
        }
        if a.stage_id != b.stage_id {
            events.push(NewEvent::new(
                EventName::DealStageChanged,
                rooms,
                audience.clone(),
                data.clone(),
            ));
        }
        let contacts: Vec<Room> = b.contact_id.into_iter().map(Room::Contact).collect();
        if !contacts.is_empty() {
            events.push(NewEvent::new(
                EventName::ContactDealUpdated,
                contacts,
                audience.and(crm_core::Permission::ContactsRead),
                data,
            ));
        }
    }
    crm_events::append(conn, actor, events).await
}
