//! The realtime events of deals (ARCHITECTURE §4), appended in the transaction of the change
//! next to the activity entries. Every deal event goes to `deal:{id}` and to the board
//! `pipeline:{pipelineId}` (to both boards when the deal changed pipeline); a deal with a
//! contact also emits `contact.deal.updated` to `contact:{contactId}` (old and new contact).
//! Receivers: the deal's visibility rule, with the people of the deal before and after the
//! change (whoever loses sight of a deal hears of it once).

use crm_core::{Actor, Change, change};
use crm_db::AsyncPgConnection;
use crm_events::{Audience, EventName, NewEvent, Rewritten, Room};
use serde_json::{Value, json};

use crate::error::DealError;
use crate::model::Deal;

fn to_json(deal: &Deal) -> Value {
    serde_json::to_value(deal).unwrap_or_default()
}

fn rooms(before: Option<&Deal>, after: &Deal) -> Vec<Room> {
    let mut rooms = vec![Room::Deal(after.id), Room::Pipeline(after.pipeline_id)];
    rooms.extend(before.map(|b| Room::Pipeline(b.pipeline_id)));
    rooms
}

fn audience(before: Option<&Deal>, after: &Deal) -> Audience {
    Audience::deal(after.created_by_id, after.assigned_to_id).with_users(
        before
            .into_iter()
            .flat_map(|b| [b.created_by_id, b.assigned_to_id]),
    )
}

/// `contact.deal.updated` for the contacts of the deal before and after, if any.
fn contact_event(before: Option<&Deal>, after: &Deal, data: &Value) -> Option<NewEvent> {
    let contacts: Vec<Room> = before
        .and_then(|b| b.contact_id)
        .into_iter()
        .chain(after.contact_id)
        .map(Room::Contact)
        .collect();
    (!contacts.is_empty()).then(|| {
        NewEvent::new(
            EventName::ContactDealUpdated,
            contacts,
            audience(before, after).and(crm_core::Permission::ContactsRead),
            data.clone(),
        )
    })
}

/// `deal.created` or `deal.deleted` (`name`) with the deal as it is or was last seen, and
/// `contact.deal.updated`.
pub(crate) async fn announced(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    name: EventName,
    deal: &Deal,
) -> Result<(), DealError> {
    let data = to_json(deal);
    let mut events = vec![NewEvent::new(
        name,
        rooms(None, deal),
        audience(None, deal),
        data.clone(),
    )];
    events.extend(contact_event(None, deal, &data));
    crm_events::append(conn, actor, events).await?;
    Ok(())
}

/// `deal.updated` with the whole deal, one `deal.field.updated` per changed field (custom
/// fields as `customFields.<key>`), `deal.stage.changed` when the stage changed, and
/// `contact.deal.updated`.
pub(crate) async fn updated(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    before: &Deal,
    after: &Deal,
) -> Result<(), DealError> {
    crm_events::append(conn, actor, update_events(before, after)).await?;
    Ok(())
}

/// The events of a change from `before` to `after` (also used for restores).
pub(crate) fn update_events(before: &Deal, after: &Deal) -> Vec<NewEvent> {
    let changes = change::diff(&to_json(before), &to_json(after));
    change_events(before, after, &changes)
}

/// `deal.updated`, one `deal.field.updated` per change of `changes`, `deal.stage.changed`
/// when the stage changed, and `contact.deal.updated`, in that order.
pub(crate) fn change_events(before: &Deal, after: &Deal, changes: &[Change]) -> Vec<NewEvent> {
    let data = to_json(after);
    let rooms = rooms(Some(before), after);
    let audience = audience(Some(before), after);
    let mut events = vec![NewEvent::new(
        EventName::DealUpdated,
        rooms.clone(),
        audience.clone(),
        data.clone(),
    )];
    for c in changes {
        events.push(NewEvent::new(
            EventName::DealFieldUpdated,
            rooms.clone(),
            audience.clone(),
            json!({"dealId": after.id, "field": c.field, "from": c.from, "to": c.to}),
        ));
    }
    if before.stage_id != after.stage_id {
        events.push(NewEvent::new(
            EventName::DealStageChanged,
            rooms,
            audience,
            data.clone(),
        ));
    }
    events.extend(contact_event(Some(before), after, &data));
    events
}

/// The events of a deal that a set-based rewrite changed (a tag renamed, merged or deleted;
/// custom-field values converted, removed, hidden or shown), with the deal as it now is:
/// exactly what [`update_deal`](crate::update_deal) emits for the same change —
/// `deal.updated` with the whole deal, one `deal.field.updated` per change, and
/// `contact.deal.updated` — to the same rooms and audience. Such rewrites touch neither the
/// stage, the board nor the deal's people, so rooms and receivers are the same before and
/// after. `crm-record-events` loads the deals and appends these.
pub fn rewrite_events(deal: &Deal, rewritten: &Rewritten) -> Vec<NewEvent> {
    change_events(deal, deal, &rewritten.changes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::input::DealStatus;
    use chrono::Utc;
    use crm_core::{DealId, PipelineId, StageId};

    fn deal() -> Deal {
        let now = Utc::now();
        Deal {
            id: DealId::new(),
            number: 1,
            title: "A".into(),
            amount: None,
            currency: "USD".into(),
            pipeline_id: PipelineId::new(),
            stage_id: StageId::new(),
            position: 0,
            status: DealStatus::Open,
            contact_id: None,
            company_id: None,
            assigned_to_id: None,
            created_by_id: None,
            expected_close_at: None,
            closed_at: None,
            lost_reason: None,
            description: None,
            tags: vec![],
            custom_fields: json!({"tier": "silver", "seats": 5}),
            created_at: now,
            updated_at: now,
            deleted_at: None,
            version: 1,
        }
    }

    #[test]
    fn custom_fields_change_as_dotted_fields_and_a_move_between_boards_reaches_both() {
        let before = deal();
        let mut after = before.clone();
        after.custom_fields = json!({"tier": "gold", "seats": 5});
        after.pipeline_id = PipelineId::new();
        after.stage_id = StageId::new();
        after.version = 2;
        let events = update_events(&before, &after);
        let names: Vec<&str> = events.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "deal.updated",
                "deal.field.updated",
                "deal.field.updated",
                "deal.field.updated",
                "deal.stage.changed"
            ]
        );
        let fields: Vec<&Value> = events[1..4].iter().map(|e| &e.payload["field"]).collect();
        assert_eq!(fields, ["customFields.tier", "pipelineId", "stageId"]);
        assert_eq!(events[1].payload["from"], "silver");
        assert_eq!(events[1].payload["to"], "gold");
        assert!(
            events[0]
                .rooms
                .contains(&Room::Pipeline(before.pipeline_id))
        );
        assert!(events[0].rooms.contains(&Room::Pipeline(after.pipeline_id)));
        assert!(events[0].rooms.contains(&Room::Deal(after.id)));
    }
}
