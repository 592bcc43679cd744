//! The outbox against a real PostgreSQL: nothing from rolled-back work, `seq` handed out by the
//! stamper to committed events only, and a reader that polls while many writers commit and
//! two stampers compete sees every event exactly once, in order.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::time::Duration;

use chrono::Utc;
use crm_core::Actor;
use crm_db::AsyncPgConnection;
use crm_events::{
    Audience, Event, EventName, NewEvent, Room, append, head, horizon, prune, stamp, unstamped,
};
use crm_testkit::TestDb;
use diesel::result::Error as DieselError;
use diesel_async::AsyncConnection;
use serde_json::json;
use uuid::Uuid;

fn event(n: u64) -> NewEvent {
    NewEvent::new(
        EventName::DealUpdated,
        vec![
            Room::Deal(Uuid::nil().into()),
            Room::Pipeline(Uuid::max().into()),
        ],
        Audience::deal(None, None),
        json!({"n": n}),
    )
}

fn n_of(e: &Event) -> u64 {
    serde_json::from_str::<serde_json::Value>(&e.payload).unwrap()["n"]
        .as_u64()
        .unwrap()
}

/// Numbers what has committed, then reads everything numbered.
async fn all(conn: &mut AsyncPgConnection) -> Vec<Event> {
    stamp(conn, 100_000).await.unwrap();
    Event::after(conn, 0, 100_000).await.unwrap()
}

#[tokio::test]
async fn rolled_back_work_leaves_no_event_and_committed_work_gets_a_seq() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let actor = Actor::system();
    let failed: Result<(), DieselError> = conn
        .transaction(async |c| {
            append(c, &actor, vec![event(1)]).await?;
            Err(DieselError::RollbackTransaction)
        })
        .await;
    assert!(failed.is_err());
    // A savepoint rolled back inside a committed transaction takes its events with it.
    conn.transaction(async |c| {
        append(c, &actor, vec![event(2)]).await?;
        let inner: Result<(), DieselError> = c
            .transaction(async |c| {
                append(c, &actor, vec![event(3)]).await?;
                Err(DieselError::RollbackTransaction)
            })
            .await;
        assert!(inner.is_err());
        Ok::<_, DieselError>(())
    })
    .await
    .unwrap();
    let events = all(&mut conn).await;
    assert_eq!(events.iter().map(n_of).collect::<Vec<_>>(), [2]);
    assert_eq!(events[0].name, "deal.updated");
    assert_eq!(
        events[0].rooms,
        [
            format!("deal:{}", Uuid::nil()),
            format!("pipeline:{}", Uuid::max())
        ]
    );
    assert_eq!(head(&mut conn).await.unwrap(), events[0].seq);
}

#[tokio::test]
async fn seq_follows_commit_order_not_insert_order() {
    let db = TestDb::new().await;
    let (mut first, mut second) = (db.conn().await, db.conn().await);
    let actor = Actor::system();
    let (inserted_tx, inserted_rx) = tokio::sync::oneshot::channel();
    let (go_tx, go_rx) = tokio::sync::oneshot::channel::<()>();
    // `first` inserts, then waits while `second` inserts and commits.
    let slow = tokio::spawn(async move {
        first
            .transaction(async |c| {
                append(c, &Actor::system(), vec![event(1)]).await?;
                inserted_tx.send(()).unwrap();
                go_rx.await.unwrap();
                Ok::<_, DieselError>(())
            })
            .await
            .unwrap();
        first
    });
    inserted_rx.await.unwrap();
    second
        .transaction(async |c| append(c, &actor, vec![event(2), event(3)]).await)
        .await
        .unwrap();
    // Only the committed transaction's events can be numbered.
    let seen = all(&mut second).await;
    assert_eq!(seen.iter().map(n_of).collect::<Vec<_>>(), [2, 3]);
    go_tx.send(()).unwrap();
    let mut first = slow.await.unwrap();
    let seen = all(&mut first).await;
    assert_eq!(seen.iter().map(n_of).collect::<Vec<_>>(), [2, 3, 1]);
    assert!(seen.windows(2).all(|w| w[0].seq < w[1].seq));
}

#[tokio::test]
async fn a_reader_polling_during_concurrent_commits_sees_every_event_once_in_order() {
    const WRITERS: u64 = 6;
    const PER_WRITER: u64 = 40;
    let db = TestDb::new().await;
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let mut conn = db.conn().await;
        writers.push(tokio::spawn(async move {
            for i in 0..PER_WRITER {
                let n = w * 1000 + i;
                conn.transaction(async |c| {
                    append(c, &Actor::system(), vec![event(n)]).await?;
                    // Some transactions hold their event a while before committing: the case
                    // in which insert order and commit order differ.
                    if (n * 7 + w) % 4 == 0 {
                        tokio::time::sleep(Duration::from_millis(3 + n % 5)).await;
                    }
                    Ok::<_, DieselError>(())
                })
                .await
                .unwrap();
                if i % 10 == 5 {
                    // And some roll back: they must leave nothing.
                    let _ = conn
                        .transaction(async |c| {
                            append(c, &Actor::system(), vec![event(999_999)]).await?;
                            Err::<(), _>(DieselError::RollbackTransaction)
                        })
                        .await;
                }
            }
        }));
    }
    // A second stamper competes with the reader's own stamping all along.
    let rival_db = db.conn().await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let rival = {
        let stop = stop.clone();
        let mut conn = rival_db;
        tokio::spawn(async move {
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                stamp(&mut conn, 5).await.unwrap();
                tokio::time::sleep(Duration::from_micros(300)).await;
            }
        })
    };
    let mut reader = db.conn().await;
    let mut cursor = 0;
    let mut seen = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while (seen.len() as u64) < WRITERS * PER_WRITER {
        assert!(
            tokio::time::Instant::now() < deadline,
            "saw {} events",
            seen.len()
        );
        // Small batches on purpose: many stamps and reads interleave with the commits.
        stamp(&mut reader, 3).await.unwrap();
        let page = Event::after(&mut reader, cursor, 7).await.unwrap();
        if let Some(last) = page.last() {
            cursor = last.seq;
        } else {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        seen.extend(page);
    }
    for w in writers {
        w.await.unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    rival.await.unwrap();
    assert!(!unstamped(&mut reader).await.unwrap());
    // Nothing after the last one either.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        Event::after(&mut reader, cursor, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(seen.windows(2).all(|w| w[0].seq < w[1].seq));
    let ns: HashSet<u64> = seen.iter().map(n_of).collect();
    assert_eq!(ns.len() as u64, WRITERS * PER_WRITER, "no duplicate");
    assert!(!ns.contains(&999_999), "nothing rolled back");
    // Everything the reader saw is everything there is.
    let everything = all(&mut reader).await;
    assert_eq!(everything.len(), seen.len());
}

#[tokio::test]
async fn a_room_replays_its_range_and_pruning_moves_the_horizon() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let actor = Actor::system();
    let (a, b) = (crm_core::DealId::new(), crm_core::DealId::new());
    for n in 0..6 {
        let room = if n % 2 == 0 {
            Room::Deal(a)
        } else {
            Room::Deal(b)
        };
        append(
            &mut conn,
            &actor,
            vec![NewEvent::new(
                EventName::DealUpdated,
                vec![room],
                Audience::default(),
                json!({"n": n}),
            )],
        )
        .await
        .unwrap();
    }
    let seqs: Vec<i64> = all(&mut conn).await.iter().map(|e| e.seq).collect();
    let room_a = Room::Deal(a).to_string();
    let replay = Event::in_room(&mut conn, &room_a, seqs[0], seqs[5], 100)
        .await
        .unwrap();
    assert_eq!(replay.iter().map(n_of).collect::<Vec<_>>(), [2, 4]);
    let page = Event::in_room(&mut conn, &room_a, 0, seqs[5], 1)
        .await
        .unwrap();
    assert_eq!(page.iter().map(n_of).collect::<Vec<_>>(), [0]);

    assert_eq!(horizon(&mut conn).await.unwrap(), 0);
    assert_eq!(
        prune(&mut conn, Utc::now() - chrono::TimeDelta::days(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        prune(&mut conn, Utc::now() + chrono::TimeDelta::seconds(1))
            .await
            .unwrap(),
        6
    );
    assert_eq!(horizon(&mut conn).await.unwrap(), seqs[5]);
    assert_eq!(head(&mut conn).await.unwrap(), seqs[5]);
}
