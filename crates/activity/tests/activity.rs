//! The activity log against a real database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crm_activity::{ActivityError, feed, list_for_entity, record};
use crm_core::{Actor, Change, Cursor, EntityKind, EntityRef, PermissionSet, Role, UserId};
use crm_testkit::TestDb;
use diesel::ExpressionMethods;
use serde_json::json;
use uuid::Uuid;

#[tokio::test]
async fn timelines_are_newest_first_and_cursor_paged_without_gaps() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let actor = Actor::system();
    let deal = EntityRef::new(EntityKind::Deal, Uuid::now_v7());
    let other = EntityRef::new(EntityKind::Deal, Uuid::now_v7());
    for i in 0..5 {
        let change = Change {
            field: "title".into(),
            from: json!(i),
            to: json!(i + 1),
        };
        record(&mut conn, &actor, deal, "deal.updated", &[change])
            .await
            .unwrap();
    }
    record(&mut conn, &actor, other, "deal.created", &[])
        .await
        .unwrap();

    let first = list_for_entity(&mut conn, &actor, deal, None, 2)
        .await
        .unwrap();
    assert_eq!(first.items.len(), 2);
    assert_eq!(first.items[0].changes[0].to, json!(5), "newest first");
    let cursor = Cursor::decode(first.next_cursor.as_deref().unwrap()).unwrap();
    let second = list_for_entity(&mut conn, &actor, deal, Some(cursor), 2)
        .await
        .unwrap();
    let cursor = Cursor::decode(second.next_cursor.as_deref().unwrap()).unwrap();
    let third = list_for_entity(&mut conn, &actor, deal, Some(cursor), 2)
        .await
        .unwrap();
    assert_eq!(third.items.len(), 1);
    assert!(third.next_cursor.is_none());
    let seen: Vec<i64> = [first, second, third]
        .iter()
        .flat_map(|p| p.items.iter().map(|a| a.changes[0].to.as_i64().unwrap()))
        .collect();
    assert_eq!(seen, [5, 4, 3, 2, 1]);

    let all = feed(&mut conn, &actor, None, None, None, 50).await.unwrap();
    assert_eq!(all.items.len(), 6);
    let created = feed(&mut conn, &actor, Some(EntityKind::Deal), None, None, 50)
        .await
        .unwrap();
    assert_eq!(created.items.len(), 6);
}

#[tokio::test]
async fn the_feed_needs_logs_read_and_timelines_activity_read() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let manager = Actor::user(
        UserId::new(),
        Role::Manager,
        Role::Manager.default_permissions(),
    );
    let nobody = Actor::user(UserId::new(), Role::Viewer, PermissionSet::default());
    let deal = EntityRef::new(EntityKind::Deal, Uuid::now_v7());
    assert!(matches!(
        feed(&mut conn, &manager, None, None, None, 10).await,
        Err(ActivityError::Forbidden(_))
    ));
    assert!(
        list_for_entity(&mut conn, &manager, deal, None, 10)
            .await
            .is_ok()
    );
    assert!(matches!(
        list_for_entity(&mut conn, &nobody, deal, None, 10).await,
        Err(ActivityError::Forbidden(_))
    ));
}

#[tokio::test]
async fn an_entry_of_an_unknown_kind_is_reported_not_shown_as_a_deal() {
    use crm_db::schema::activity;
    use diesel_async::RunQueryDsl;
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let id = Uuid::now_v7();
    diesel::insert_into(activity::table)
        .values((
            activity::id.eq(id),
            activity::entity_type.eq("planet"),
            activity::entity_id.eq(Uuid::now_v7()),
            activity::kind.eq("planet.created"),
        ))
        .execute(&mut conn)
        .await
        .unwrap();
    let err = feed(&mut conn, &Actor::system(), None, None, None, 10)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ActivityError::Unreadable { id: bad, .. } if *bad == id),
        "{err:?}"
    );
    assert_eq!(
        crm_core::DomainError::kind(&err),
        crm_core::ErrorKind::Internal
    );
}
