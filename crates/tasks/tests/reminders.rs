//! Task reminders against a real PostgreSQL: `task.due` fires once per task and due time, in
//! the assignee's room, even when several instances run the job at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, SubsecRound, Utc};
use crm_core::{Actor, Role};
use crm_events::Event;
use crm_tasks::reminders::fire_due_reminders;
use crm_tasks::{CreateTask, UpdateTask};
use crm_testkit::{TestDb, UserBuilder};
use serde_json::json;

async fn user(conn: &mut crm_db::AsyncPgConnection) -> Actor {
    UserBuilder::new(Role::Manager).insert(conn).await.actor()
}

async fn due_events(conn: &mut crm_db::AsyncPgConnection) -> Vec<Event> {
    crm_events::stamp(conn, 1000).await.unwrap();
    Event::after(conn, 0, 1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.name == "task.due")
        .collect()
}

/// Runs the job on `instances` connections at the same moment; how many fired in all.
async fn fire_concurrently(db: &TestDb, instances: usize, now: chrono::DateTime<Utc>) -> usize {
    let mut jobs = Vec::new();
    for _ in 0..instances {
        let mut c = db.conn().await;
        jobs.push(tokio::spawn(async move {
            fire_due_reminders(&mut c, now).await.unwrap()
        }));
    }
    let mut fired = 0;
    for j in jobs {
        fired += j.await.unwrap();
    }
    fired
}

#[tokio::test]
async fn a_due_task_fires_once_in_its_assignees_room_even_with_concurrent_jobs() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let me = user(&mut conn).await;
    let now = Utc::now();
    let task = |title: &str, due: chrono::DateTime<Utc>| -> CreateTask {
        serde_json::from_value(json!({"title": title, "dueAt": due})).unwrap()
    };
    let due = crm_tasks::create_task(&mut conn, &me, task("due", now - Duration::seconds(1)))
        .await
        .unwrap();
    let later = crm_tasks::create_task(&mut conn, &me, task("later", now + Duration::hours(1)))
        .await
        .unwrap();
    let done: CreateTask =
        serde_json::from_value(json!({"title": "done", "dueAt": now, "status": "DONE"})).unwrap();
    crm_tasks::create_task(&mut conn, &me, done).await.unwrap();
    let ancient = crm_tasks::create_task(&mut conn, &me, task("old", now - Duration::days(3)))
        .await
        .unwrap();

    // Four "instances" run the job at the same moment.
    assert_eq!(fire_concurrently(&db, 4, now).await, 1);
    assert_eq!(fire_due_reminders(&mut conn, now).await.unwrap(), 0);
    let events = due_events(&mut conn).await;
    assert_eq!(events.len(), 1);
    let me_id = me.user_id.unwrap();
    assert_eq!(events[0].rooms, [format!("user:{me_id}")]);
    let data: serde_json::Value = serde_json::from_str(&events[0].payload).unwrap();
    assert_eq!(data["id"], json!(due.id));
    assert!(events[0].audience.users.contains(&me_id));
    assert_ne!(data["id"], json!(ancient.id));

    // Moving the due time makes it due again, once.
    let moved: UpdateTask =
        serde_json::from_value(json!({"dueAt": now + Duration::minutes(30)})).unwrap();
    crm_tasks::update_task(&mut conn, &me, due.id, moved, None)
        .await
        .unwrap();
    let at = now + Duration::hours(2);
    assert_eq!(fire_due_reminders(&mut conn, at).await.unwrap(), 2);
    assert_eq!(fire_due_reminders(&mut conn, at).await.unwrap(), 0);
    let ids: Vec<String> = due_events(&mut conn)
        .await
        .iter()
        .map(|e| serde_json::from_str::<serde_json::Value>(&e.payload).unwrap()["id"].to_string())
        .collect();
    assert_eq!(ids.len(), 3);
    assert!(ids.contains(&json!(later.id).to_string()));
    assert_eq!(
        crm_tasks::reminders::prune_reminders(&mut conn, at + Duration::days(3))
            .await
            .unwrap(),
        3
    );
}

#[tokio::test]
async fn a_reminder_time_fires_task_reminder_once_apart_from_the_due_time() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let me = user(&mut conn).await;
    let now = Utc::now();
    let task = |body: serde_json::Value| -> CreateTask { serde_json::from_value(body).unwrap() };
    let remind = now - Duration::seconds(1);
    let both = crm_tasks::create_task(
        &mut conn,
        &me,
        task(json!({"title": "call", "remindAt": remind, "dueAt": now + Duration::hours(1)})),
    )
    .await
    .unwrap();
    assert_eq!(both.remind_at, Some(remind).map(|t| t.trunc_subsecs(6)));
    let trashed = crm_tasks::create_task(
        &mut conn,
        &me,
        task(json!({"title": "gone", "remindAt": remind})),
    )
    .await
    .unwrap();
    crm_tasks::delete_task(&mut conn, &me, trashed.id, false, None)
        .await
        .unwrap();

    assert_eq!(fire_concurrently(&db, 3, now).await, 1);
    crm_events::stamp(&mut conn, 1000).await.unwrap();
    let names = |events: Vec<Event>| -> Vec<(String, serde_json::Value)> {
        events
            .into_iter()
            .filter(|e| e.name == "task.due" || e.name == "task.reminder")
            .map(|e| {
                let data: serde_json::Value = serde_json::from_str(&e.payload).unwrap();
                (e.name, data["id"].clone())
            })
            .collect()
    };
    let events = names(Event::after(&mut conn, 0, 1000).await.unwrap());
    assert_eq!(events, [("task.reminder".to_owned(), json!(both.id))]);

    // The due time still fires on its own; a new reminder time arms the reminder again;
    // clearing it (null) fires nothing more.
    let later = now + Duration::hours(2);
    let moved: UpdateTask =
        serde_json::from_value(json!({"remindAt": now + Duration::minutes(90)})).unwrap();
    crm_tasks::update_task(&mut conn, &me, both.id, moved, None)
        .await
        .unwrap();
    assert_eq!(fire_due_reminders(&mut conn, later).await.unwrap(), 2);
    let cleared: UpdateTask = serde_json::from_value(json!({"remindAt": null})).unwrap();
    let after = crm_tasks::update_task(&mut conn, &me, both.id, cleared, None)
        .await
        .unwrap();
    assert_eq!(after.remind_at, None);
    assert_eq!(fire_due_reminders(&mut conn, later).await.unwrap(), 0);
    crm_events::stamp(&mut conn, 1000).await.unwrap();
    let events = names(Event::after(&mut conn, 0, 1000).await.unwrap());
    let id = json!(both.id);
    assert_eq!(
        events,
        [
            ("task.reminder".to_owned(), id.clone()),
            ("task.due".to_owned(), id.clone()),
            ("task.reminder".to_owned(), id),
        ]
    );
}
