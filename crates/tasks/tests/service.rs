//! Task services against a real PostgreSQL (a fresh database per test).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, Utc};
use crm_core::actor::Forbidden;
use crm_core::{Actor, DealId, Permission, Role, SortDirection, SortSpec};
use crm_db::AsyncPgConnection;
use crm_tasks::{
    CreateTask, ListTasks, Task, TaskError, TaskPriority, TaskSort, TaskStatus, UpdateTask,
};
use crm_testkit::{ContactRow, DealRow, TestDb, UserBuilder, user};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

fn new_task(title: &str) -> CreateTask {
    serde_json::from_value(serde_json::json!({ "title": title })).unwrap()
}

async fn create(conn: &mut AsyncPgConnection, actor: &Actor, input: CreateTask) -> Task {
    crm_tasks::create_task(conn, actor, input).await.unwrap()
}

fn titles(tasks: &[Task]) -> Vec<&str> {
    tasks.iter().map(|t| t.title.as_str()).collect()
}

async fn list(conn: &mut AsyncPgConnection, actor: &Actor, input: ListTasks) -> Vec<Task> {
    crm_tasks::list_tasks(conn, actor, &input)
        .await
        .unwrap()
        .into_items()
}

#[tokio::test]
async fn defaults_apply_and_the_assignee_is_the_acting_user() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let me = user(&mut conn, Role::Manager, vec![]).await;
    let task = create(&mut conn, &me.actor(), new_task("  Call back  ")).await;
    assert_eq!(task.title, "Call back");
    assert_eq!(task.status, TaskStatus::Todo);
    assert_eq!(task.priority, TaskPriority::Medium);
    assert_eq!(task.kind, crm_tasks::TaskType::Other);
    assert_eq!(task.assigned_to_id, Some(me.id));
    assert_eq!(task.created_by_id, Some(me.id));
    assert_eq!(task.version, 1);
    assert!(task.completed_at.is_none() && !task.overdue && task.deleted_at.is_none());
}

#[tokio::test]
async fn completed_at_is_set_on_done_and_cleared_when_leaving_done() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let actor = (user(&mut conn, Role::Manager, vec![]).await).actor();
    let task = create(&mut conn, &actor, new_task("T")).await;
    let set = |status| UpdateTask {
        status: Some(status),
        ..UpdateTask::default()
    };
    let done = crm_tasks::update_task(&mut conn, &actor, task.id, set(TaskStatus::Done), Some(1))
        .await
        .unwrap();
    let completed = done.completed_at.expect("completedAt set");
    // Staying DONE keeps the first completion time.
    let again = crm_tasks::update_task(
        &mut conn,
        &actor,
        task.id,
        UpdateTask {
            title: Some("T2".into()),
            ..UpdateTask::default()
        },
        None,
    )
    .await
    .unwrap();
    assert_eq!(again.completed_at, Some(completed));
    let reopened = crm_tasks::update_task(
        &mut conn,
        &actor,
        task.id,
        set(TaskStatus::InProgress),
        None,
    )
    .await
    .unwrap();
    assert_eq!(reopened.completed_at, None);
    let mut input = new_task("born done");
    input.status = Some(TaskStatus::Done);
    assert!(
        create(&mut conn, &actor, input)
            .await
            .completed_at
            .is_some()
    );
}

#[tokio::test]
async fn overdue_is_computed_and_filterable() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let actor = (user(&mut conn, Role::Manager, vec![]).await).actor();
    let past = Utc::now() - Duration::hours(1);
    let mut late = new_task("late");
    late.due_at = Some(past);
    let late = create(&mut conn, &actor, late).await;
    let mut done_late = new_task("done late");
    done_late.due_at = Some(past);
    done_late.status = Some(TaskStatus::Done);
    create(&mut conn, &actor, done_late).await;
    let mut future = new_task("future");
    future.due_at = Some(Utc::now() + Duration::days(1));
    create(&mut conn, &actor, future).await;
    create(&mut conn, &actor, new_task("undated")).await;
    assert!(late.overdue);
    let overdue = list(
        &mut conn,
        &actor,
        ListTasks {
            overdue: Some(true),
            ..ListTasks::default()
        },
    )
    .await;
    assert_eq!(titles(&overdue), ["late"]);
    let not_overdue = list(
        &mut conn,
        &actor,
        ListTasks {
            overdue: Some(false),
            ..ListTasks::default()
        },
    )
    .await;
    assert_eq!(titles(&not_overdue), ["done late", "future", "undated"]);
    assert!(not_overdue.iter().all(|t| !t.overdue));
}

#[tokio::test]
async fn priority_sorts_by_urgency_not_alphabetically_and_due_dates_filter_a_range() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let actor = (user(&mut conn, Role::Manager, vec![]).await).actor();
    let base = Utc::now() + Duration::days(10);
    for (i, (title, p)) in [
        ("m", TaskPriority::Medium),
        ("u", TaskPriority::Urgent),
        ("l", TaskPriority::Low),
        ("h", TaskPriority::High),
    ]
    .into_iter()
    .enumerate()
    {
        let mut t = new_task(title);
        t.priority = Some(p);
        t.due_at = Some(base + Duration::days(i as i64));
        create(&mut conn, &actor, t).await;
    }
    let by = |dir| ListTasks {
        sort: SortSpec {
            keys: vec![(TaskSort::Priority, dir)],
        },
        ..ListTasks::default()
    };
    assert_eq!(
        titles(&list(&mut conn, &actor, by(SortDirection::Desc)).await),
        ["u", "h", "m", "l"]
    );
    assert_eq!(
        titles(&list(&mut conn, &actor, by(SortDirection::Asc)).await),
        ["l", "m", "h", "u"]
    );
    let range = list(
        &mut conn,
        &actor,
        ListTasks {
            due_from: Some(base + Duration::days(1)),
            due_to: Some(base + Duration::days(2)),
            ..ListTasks::default()
        },
    )
    .await;
    assert_eq!(titles(&range), ["u", "l"]);
}

#[tokio::test]
async fn without_read_all_a_user_sees_only_tasks_they_created_or_are_assigned_to() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let boss = (user(&mut conn, Role::Manager, vec![]).await).actor();
    let me_user = user(&mut conn, Role::Manager, vec![Permission::TasksReadAll]).await;
    let me = me_user.actor();
    let others = create(&mut conn, &boss, new_task("others")).await;
    let mut assigned = new_task("assigned to me");
    assigned.assigned_to_id = Some(me_user.id);
    create(&mut conn, &boss, assigned).await;
    create(&mut conn, &me, new_task("mine")).await;
    let seen = list(&mut conn, &me, ListTasks::default()).await;
    assert_eq!(titles(&seen), ["assigned to me", "mine"]);
    let err = crm_tasks::get_task(&mut conn, &me, others.id)
        .await
        .unwrap_err();
    assert!(matches!(err, TaskError::NotFound(_)), "{err:?}");
    let err = crm_tasks::update_task(&mut conn, &me, others.id, UpdateTask::default(), None)
        .await
        .unwrap_err();
    assert!(matches!(err, TaskError::NotFound(_)), "{err:?}");
    assert_eq!(list(&mut conn, &boss, ListTasks::default()).await.len(), 3);
}

#[tokio::test]
async fn links_must_name_live_deals_contacts_and_active_users() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let actor = (user(&mut conn, Role::Manager, vec![]).await).actor();
    let deal = DealRow::new().insert(&mut conn).await;
    let trashed_deal = DealRow::new().trashed().insert(&mut conn).await;
    let contact = ContactRow::new().insert(&mut conn).await;
    let trashed_contact = ContactRow::new().trashed().insert(&mut conn).await;
    let inactive = UserBuilder::new(Role::Viewer)
        .email("gone@example.com")
        .inactive()
        .insert(&mut conn)
        .await;
    let mut ok = new_task("linked");
    ok.deal_id = Some(deal);
    ok.contact_id = Some(contact);
    let linked = create(&mut conn, &actor, ok).await;
    assert_eq!(
        (linked.deal_id, linked.contact_id),
        (Some(deal), Some(contact))
    );
    for (mutate, code) in [
        (
            Box::new(|t: &mut CreateTask| t.deal_id = Some(trashed_deal))
                as Box<dyn Fn(&mut CreateTask)>,
            "unknown_deal",
        ),
        (
            Box::new(|t: &mut CreateTask| t.deal_id = Some(DealId::new())),
            "unknown_deal",
        ),
        (
            Box::new(|t: &mut CreateTask| t.contact_id = Some(trashed_contact)),
            "unknown_contact",
        ),
        (
            Box::new(|t: &mut CreateTask| t.assigned_to_id = Some(inactive.id)),
            "unknown_user",
        ),
    ] {
        let mut input = new_task("bad");
        mutate(&mut input);
        let err = crm_tasks::create_task(&mut conn, &actor, input)
            .await
            .unwrap_err();
        assert_eq!(crm_core::DomainError::code(&err), code);
    }
    let err = crm_tasks::update_task(
        &mut conn,
        &actor,
        linked.id,
        UpdateTask {
            deal_id: Some(Some(trashed_deal)),
            ..UpdateTask::default()
        },
        None,
    )
    .await
    .unwrap_err();
    assert!(matches!(err, TaskError::UnknownDeal(_)));
    // Unlinking with null is always fine.
    let unlinked = crm_tasks::update_task(
        &mut conn,
        &actor,
        linked.id,
        UpdateTask {
            deal_id: Some(None),
            assigned_to_id: Some(None),
            ..UpdateTask::default()
        },
        None,
    )
    .await
    .unwrap();
    assert_eq!((unlinked.deal_id, unlinked.assigned_to_id), (None, None));
    // Nothing failed left anything behind.
    let count: i64 = crm_db::schema::tasks::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(count, 1);
}

#[tokio::test]
async fn invalid_input_names_the_fields_in_camel_case() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let actor = (user(&mut conn, Role::Manager, vec![]).await).actor();
    for (body, field) in [
        (serde_json::json!({"title": "   "}), "title"),
        (serde_json::json!({"title": "x".repeat(301)}), "title"),
        (serde_json::json!({"title": "t", "tags": [""]}), "tags"),
        (
            serde_json::json!({"title": "t", "customFields": [1]}),
            "customFields",
        ),
        (
            serde_json::json!({"title": "t", "description": "x".repeat(10001)}),
            "description",
        ),
    ] {
        let input: CreateTask = serde_json::from_value(body).unwrap();
        let TaskError::Invalid(errors) = crm_tasks::create_task(&mut conn, &actor, input)
            .await
            .unwrap_err()
        else {
            panic!("expected a validation error for {field}");
        };
        assert_eq!(errors[0].field, field);
    }
}

#[tokio::test]
async fn trash_restore_and_permanent_deletion_follow_the_rules() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let manager = (user(&mut conn, Role::Manager, vec![]).await).actor();
    let admin = (user(&mut conn, Role::Admin, vec![]).await).actor();
    let task = create(&mut conn, &manager, new_task("T")).await;
    let err = crm_tasks::delete_task(&mut conn, &manager, task.id, false, Some(7))
        .await
        .unwrap_err();
    assert!(matches!(err, TaskError::VersionMismatch(_)));
    crm_tasks::delete_task(&mut conn, &manager, task.id, false, Some(1))
        .await
        .unwrap();
    assert!(matches!(
        crm_tasks::get_task(&mut conn, &manager, task.id).await,
        Err(TaskError::NotFound(_))
    ));
    let trash = list(
        &mut conn,
        &manager,
        ListTasks {
            deleted: true,
            ..ListTasks::default()
        },
    )
    .await;
    assert_eq!(trash.len(), 1);
    assert!(trash[0].deleted_at.is_some());
    let restored = crm_tasks::restore_task(&mut conn, &manager, task.id)
        .await
        .unwrap();
    assert!(restored.deleted_at.is_none());
    assert!(matches!(
        crm_tasks::restore_task(&mut conn, &manager, task.id).await,
        Err(TaskError::NotFound(_))
    ));
    assert!(matches!(
        crm_tasks::delete_task(&mut conn, &manager, task.id, true, None).await,
        Err(TaskError::NotAdmin)
    ));
    diesel::sql_query(
        "INSERT INTO comments (id, entity_type, entity_id, content) VALUES (gen_random_uuid(), 'task', $1, 'c')",
    )
    .bind::<diesel::sql_types::Uuid, _>(task.id)
    .execute(&mut conn)
    .await
    .unwrap();
    crm_tasks::delete_task(&mut conn, &admin, task.id, true, None)
        .await
        .unwrap();
    let comments: i64 = crm_db::schema::comments::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        comments, 0,
        "a task deleted for good takes its comments along"
    );
    assert!(matches!(
        crm_tasks::restore_task(&mut conn, &admin, task.id).await,
        Err(TaskError::NotFound(_))
    ));
    // Purging removes only what was trashed before the cut-off.
    let old = create(&mut conn, &manager, new_task("old")).await;
    let fresh = create(&mut conn, &manager, new_task("fresh")).await;
    crm_tasks::delete_task(&mut conn, &manager, old.id, false, None)
        .await
        .unwrap();
    assert_eq!(
        crm_tasks::purge_trash(&mut conn, Utc::now() + Duration::seconds(1))
            .await
            .unwrap(),
        1
    );
    assert!(
        crm_tasks::get_task(&mut conn, &manager, fresh.id)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn every_change_is_in_the_activity_log_with_field_changes() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let actor = (user(&mut conn, Role::Admin, vec![]).await).actor();
    let task = create(&mut conn, &actor, new_task("T")).await;
    crm_tasks::update_task(
        &mut conn,
        &actor,
        task.id,
        UpdateTask {
            priority: Some(TaskPriority::Urgent),
            ..UpdateTask::default()
        },
        None,
    )
    .await
    .unwrap();
    crm_tasks::delete_task(&mut conn, &actor, task.id, false, None)
        .await
        .unwrap();
    crm_tasks::restore_task(&mut conn, &actor, task.id)
        .await
        .unwrap();
    let entries = crm_activity::list_for_entity(
        &mut conn,
        &actor,
        crm_core::EntityRef::new(crm_core::EntityKind::Task, task.id),
        None,
        50,
    )
    .await
    .unwrap()
    .items;
    let kinds: Vec<&str> = entries.iter().map(|a| a.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "task.restored",
            "task.deleted",
            "task.updated",
            "task.created"
        ]
    );
    let update = &entries[2].changes;
    assert_eq!(update.len(), 1);
    assert_eq!(update[0].field, "priority");
    assert_eq!(update[0].from, "MEDIUM");
    assert_eq!(update[0].to, "URGENT");
    assert!(
        entries[3]
            .changes
            .iter()
            .any(|c| c.field == "title" && c.to == "T")
    );
}

#[tokio::test]
async fn tags_are_normalised_registered_and_filter_case_insensitively() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let actor = (user(&mut conn, Role::Manager, vec![]).await).actor();
    let mut t = new_task("tagged");
    t.tags = vec![" VIP ".into(), "vip".into(), "lead".into()];
    let task = create(&mut conn, &actor, t).await;
    assert_eq!(task.tags, ["VIP", "lead"]);
    create(&mut conn, &actor, new_task("plain")).await;
    let found = list(
        &mut conn,
        &actor,
        ListTasks {
            tag: Some("vIp".into()),
            ..ListTasks::default()
        },
    )
    .await;
    assert_eq!(titles(&found), ["tagged"]);
    let names: Vec<String> = crm_db::schema::tags::table
        .select(crm_db::schema::tags::name)
        .order(crm_db::schema::tags::name)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(names, ["VIP", "lead"]);
}

#[tokio::test]
async fn a_viewer_writes_nothing() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let viewer = (user(&mut conn, Role::Viewer, vec![]).await).actor();
    assert!(matches!(
        crm_tasks::create_task(&mut conn, &viewer, new_task("x")).await,
        Err(TaskError::Forbidden(Forbidden(Permission::TasksWrite)))
    ));
}

#[tokio::test]
async fn lists_filter_by_assignee_deal_contact_type_and_priority() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let me = user(&mut conn, Role::Manager, vec![]).await;
    let other = user(&mut conn, Role::Manager, vec![]).await;
    let actor = me.actor();
    let deal = DealRow::new().insert(&mut conn).await;
    let contact = ContactRow::new().insert(&mut conn).await;
    let mut a = new_task("a");
    a.deal_id = Some(deal);
    a.kind = Some(crm_tasks::TaskType::Call);
    create(&mut conn, &actor, a).await;
    let mut b = new_task("b");
    b.contact_id = Some(contact);
    b.assigned_to_id = Some(other.id);
    b.priority = Some(TaskPriority::High);
    create(&mut conn, &actor, b).await;
    create(&mut conn, &actor, new_task("c")).await;
    for (input, expected) in [
        (
            ListTasks {
                deal_id: Some(deal),
                ..ListTasks::default()
            },
            vec!["a"],
        ),
        (
            ListTasks {
                contact_id: Some(contact),
                ..ListTasks::default()
            },
            vec!["b"],
        ),
        (
            ListTasks {
                assigned_to_id: Some(me.id),
                ..ListTasks::default()
            },
            vec!["a", "c"],
        ),
        (
            ListTasks {
                kind: Some(crm_tasks::TaskType::Call),
                ..ListTasks::default()
            },
            vec!["a"],
        ),
        (
            ListTasks {
                priority: Some(TaskPriority::High),
                ..ListTasks::default()
            },
            vec!["b"],
        ),
        (
            ListTasks {
                q: Some("%".into()),
                ..ListTasks::default()
            },
            vec![],
        ),
    ] {
        assert_eq!(titles(&list(&mut conn, &actor, input).await), expected);
    }
}

#[tokio::test]
async fn cursor_pages_follow_creation_order_without_gaps() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let actor = (user(&mut conn, Role::Manager, vec![]).await).actor();
    for title in ["1", "2", "3", "4", "5"] {
        create(&mut conn, &actor, new_task(title)).await;
    }
    let mut input = ListTasks {
        page: crm_core::PageRequest::new(None, Some(2)).unwrap(),
        cursor: Some(None),
        ..ListTasks::default()
    };
    let mut seen = Vec::new();
    loop {
        let crm_core::Listing::Cursor(page) = crm_tasks::list_tasks(&mut conn, &actor, &input)
            .await
            .unwrap()
        else {
            panic!("a cursor list answers a cursor page");
        };
        seen.extend(page.items.iter().map(|t| t.title.clone()));
        match page.next_cursor {
            Some(next) => input.cursor = Some(Some(crm_core::Cursor::decode(&next).unwrap())),
            None => break,
        }
    }
    assert_eq!(seen, ["1", "2", "3", "4", "5"]);
}
