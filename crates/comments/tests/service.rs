//! Comment services against a real PostgreSQL (a fresh database per test).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crm_comments::{CommentError, CommentTarget, CommentType, CreateComment, UpdateComment};
use crm_core::actor::Forbidden;
use crm_core::{EntityKind, EntityRef, PageRequest, Permission, Role};
use crm_db::AsyncPgConnection;
use crm_testkit::{ContactRow, DealRow, TaskRow, TestDb, UserBuilder};
use crm_users::User;
use uuid::Uuid;

async fn user(conn: &mut AsyncPgConnection, role: Role) -> User {
    UserBuilder::new(role).insert(conn).await
}

/// A live or trashed row of the commented kind.
async fn insert(conn: &mut AsyncPgConnection, target: CommentTarget, trashed: bool) -> Uuid {
    match (target, trashed) {
        (CommentTarget::Deal, false) => DealRow::new().insert(conn).await.into(),
        (CommentTarget::Deal, true) => DealRow::new().trashed().insert(conn).await.into(),
        (CommentTarget::Contact, false) => ContactRow::new().insert(conn).await.into(),
        (CommentTarget::Contact, true) => ContactRow::new().trashed().insert(conn).await.into(),
        (CommentTarget::Task, false) => TaskRow::new().insert(conn).await.into(),
        (CommentTarget::Task, true) => TaskRow::new().trashed().insert(conn).await.into(),
    }
}

fn comment(target: CommentTarget, id: Uuid, content: &str) -> CreateComment {
    CreateComment {
        entity_type: target,
        entity_id: id,
        kind: CommentType::Comment,
        content: content.into(),
    }
}

#[tokio::test]
async fn comments_go_on_live_deals_contacts_and_tasks_only() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let actor = (user(&mut conn, Role::Manager).await).actor();
    for target in [
        CommentTarget::Deal,
        CommentTarget::Contact,
        CommentTarget::Task,
    ] {
        let live = insert(&mut conn, target, false).await;
        let trashed = insert(&mut conn, target, true).await;
        let c = crm_comments::create_comment(&mut conn, &actor, comment(target, live, "hi"))
            .await
            .unwrap();
        assert_eq!((c.entity_type, c.entity_id, c.version), (target, live, 1));
        assert_eq!(c.author_id, actor.user_id);
        for id in [trashed, Uuid::now_v7()] {
            let err = crm_comments::create_comment(&mut conn, &actor, comment(target, id, "x"))
                .await
                .unwrap_err();
            assert!(matches!(err, CommentError::UnknownEntity(..)), "{err:?}");
        }
    }
}

#[tokio::test]
async fn only_the_author_edits_and_only_admins_delete_others_comments() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let author = (user(&mut conn, Role::Manager).await).actor();
    let other = (user(&mut conn, Role::Manager).await).actor();
    let admin = (user(&mut conn, Role::Admin).await).actor();
    let task = insert(&mut conn, CommentTarget::Task, false).await;
    let c =
        crm_comments::create_comment(&mut conn, &author, comment(CommentTarget::Task, task, "a"))
            .await
            .unwrap();
    let edit = UpdateComment {
        content: Some("b".into()),
        kind: Some(CommentType::InternalNote),
    };
    for actor in [&other, &admin] {
        let err = crm_comments::update_comment(&mut conn, actor, c.id, edit.clone(), None)
            .await
            .unwrap_err();
        assert!(matches!(err, CommentError::NotAuthor), "{err:?}");
    }
    let err = crm_comments::update_comment(&mut conn, &author, c.id, edit.clone(), Some(9))
        .await
        .unwrap_err();
    assert!(matches!(err, CommentError::VersionMismatch(_)));
    let edited = crm_comments::update_comment(&mut conn, &author, c.id, edit, Some(1))
        .await
        .unwrap();
    assert_eq!(
        (edited.content.as_str(), edited.kind, edited.version),
        ("b", CommentType::InternalNote, 2)
    );
    let err = crm_comments::delete_comment(&mut conn, &other, c.id, None)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        CommentError::Forbidden(Forbidden(Permission::CommentsDelete))
    ));
    crm_comments::delete_comment(&mut conn, &admin, c.id, None)
        .await
        .unwrap();
    assert!(matches!(
        crm_comments::get_comment(&mut conn, &admin, c.id).await,
        Err(CommentError::NotFound(_))
    ));
    let own = crm_comments::create_comment(
        &mut conn,
        &author,
        comment(CommentTarget::Task, task, "mine"),
    )
    .await
    .unwrap();
    crm_comments::delete_comment(&mut conn, &author, own.id, None)
        .await
        .unwrap();
}

#[tokio::test]
async fn comment_changes_land_on_the_parent_timeline_and_lists_are_oldest_first() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let actor = (user(&mut conn, Role::Admin).await).actor();
    let task = insert(&mut conn, CommentTarget::Task, false).await;
    let first =
        crm_comments::create_comment(&mut conn, &actor, comment(CommentTarget::Task, task, "one"))
            .await
            .unwrap();
    crm_comments::create_comment(&mut conn, &actor, comment(CommentTarget::Task, task, "two"))
        .await
        .unwrap();
    crm_comments::update_comment(
        &mut conn,
        &actor,
        first.id,
        UpdateComment {
            content: Some("uno".into()),
            kind: None,
        },
        None,
    )
    .await
    .unwrap();
    crm_comments::delete_comment(&mut conn, &actor, first.id, None)
        .await
        .unwrap();
    let page = crm_comments::list_comments(
        &mut conn,
        &actor,
        CommentTarget::Task,
        task,
        PageRequest::default(),
    )
    .await
    .unwrap();
    assert_eq!(page.total, 1);
    assert_eq!(page.items[0].content, "two");
    let entries = crm_activity::list_for_entity(
        &mut conn,
        &actor,
        EntityRef::new(EntityKind::Task, task),
        None,
        50,
    )
    .await
    .unwrap()
    .items;
    let summary: Vec<(&str, &str, serde_json::Value, serde_json::Value)> = entries
        .iter()
        .map(|a| {
            (
                a.kind.as_str(),
                a.changes[0].field.as_str(),
                a.changes[0].from.clone(),
                a.changes[0].to.clone(),
            )
        })
        .collect();
    use serde_json::json;
    assert_eq!(
        summary,
        [
            ("comment.deleted", "content", json!("uno"), json!(null)),
            ("comment.updated", "content", json!("one"), json!("uno")),
            ("comment.created", "content", json!(null), json!("two")),
            ("comment.created", "content", json!(null), json!("one")),
        ]
    );
}

#[tokio::test]
async fn content_must_hold_one_to_ten_thousand_characters_and_viewers_write_nothing() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let actor = (user(&mut conn, Role::Manager).await).actor();
    let viewer = (user(&mut conn, Role::Viewer).await).actor();
    let task = insert(&mut conn, CommentTarget::Task, false).await;
    for content in [String::new(), "   ".into(), "x".repeat(10001)] {
        let CommentError::Invalid(errors) = crm_comments::create_comment(
            &mut conn,
            &actor,
            comment(CommentTarget::Task, task, &content),
        )
        .await
        .unwrap_err() else {
            panic!("expected invalid");
        };
        assert_eq!(errors[0].field, "content");
    }
    assert!(matches!(
        crm_comments::create_comment(&mut conn, &viewer, comment(CommentTarget::Task, task, "x"))
            .await,
        Err(CommentError::Forbidden(Forbidden(
            Permission::CommentsWrite
        )))
    ));
}
