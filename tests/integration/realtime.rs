//! Realtime over WebSockets, black-box: real servers on free ports, one real PostgreSQL, a
//! real WebSocket client (tokio-tungstenite). Waits are generous and nothing asserts speed:
//! "nothing else arrived" is checked by a later marker event that must come first.

use std::collections::HashSet;
use std::time::Duration;

use crm_core::{Actor, Permission, Role};

use diesel_async::{AsyncConnection, RunQueryDsl};
use futures_util::{SinkExt, StreamExt};
use reqwest::Method;
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use uuid::Uuid;

use crate::support::{TestApp, assert_problem};
use crm_testkit::UserBuilder;

const WAIT: Duration = Duration::from_secs(30);

struct Ws {
    inner: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

fn ws_url(app: &TestApp) -> String {
    format!("{}/websocket", app.base.replacen("http://", "ws://", 1))
}

impl Ws {
    async fn connect(app: &TestApp, token: &str) -> Ws {
        let mut req = ws_url(app).into_client_request().unwrap();
        req.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        let (inner, res) = tokio_tungstenite::connect_async(req).await.unwrap();
        assert_eq!(res.status(), 101);
        Ws { inner }
    }

    async fn send(&mut self, v: Value) {
        self.inner.send(Message::text(v.to_string())).await.unwrap();
    }

    /// The next JSON message (pings are answered by the library while reading).
    async fn recv(&mut self) -> Value {
        loop {
            let msg = timeout(WAIT, self.inner.next())
                .await
                .expect("a message in time")
                .expect("socket open")
                .expect("no socket error");
            match msg {
                Message::Text(t) => return serde_json::from_str(&t).unwrap(),
                Message::Ping(_) | Message::Pong(_) => continue,
                other => panic!("unexpected frame {other:?}"),
            }
        }
    }

    async fn subscribe(&mut self, room: &str, since: Option<i64>) {
        let mut msg = json!({"action": "subscribe", "room": room});
        if let Some(s) = since {
            msg["since"] = json!(s);
        }
        self.send(msg).await;
        let answer = self.recv().await;
        assert_eq!(
            answer,
            json!({"type": "subscribed", "room": room}),
            "{room}"
        );
    }

    /// Subscribing must fail with `code`.
    async fn refused(&mut self, room: Value, code: &str) -> Value {
        self.send(json!({"action": "subscribe", "room": room}))
            .await;
        let answer = self.recv().await;
        assert_eq!(answer["type"], "error", "{answer}");
        assert_eq!(answer["code"], code, "{answer}");
        assert!(answer["message"].is_string());
        answer
    }

    async fn event(&mut self) -> Value {
        let m = self.recv().await;
        assert_eq!(m["type"], "event", "{m}");
        m
    }

    async fn events(&mut self, n: usize) -> Vec<Value> {
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push(self.event().await);
        }
        out
    }

    /// Events up to and including the first that `last` accepts.
    async fn until(&mut self, last: impl Fn(&Value) -> bool) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let e = self.event().await;
            let done = last(&e);
            out.push(e);
            if done {
                return out;
            }
        }
    }

    /// Reads until the connection ends; returns the close frame's code and reason (if the
    /// server got one out) and how many events came before.
    async fn close(&mut self) -> (Option<(u16, String)>, usize) {
        let mut events = 0;
        let all = async {
            loop {
                match self.inner.next().await {
                    Some(Ok(Message::Close(frame))) => {
                        return frame.map(|f| (u16::from(f.code), f.reason.to_string()));
                    }
                    Some(Ok(Message::Text(_))) => events += 1,
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => return None,
                }
            }
        };
        let frame = timeout(WAIT * 2, all).await.expect("closed in time");
        (frame, events)
    }
}

fn seq(e: &Value) -> i64 {
    e["seq"].as_i64().unwrap()
}

/// Waits until every committed event has its `seq` (the hub's stamper numbers them within
/// milliseconds), so that pruning in the test sees them.
async fn settled(app: &TestApp) {
    let mut conn = app.pool.get().await.unwrap();
    crm_events::stamp_waiting(&mut conn, 100_000).await.unwrap();
    assert!(!crm_events::unstamped(&mut conn).await.unwrap());
}

/// Requests of one signed-in user, each of which must succeed; they answer the `data` (null
/// when there is no body).
#[derive(Clone, Copy)]
struct Caller<'a> {
    app: &'a TestApp,
    token: &'a str,
}

impl<'a> Caller<'a> {
    fn new(app: &'a TestApp, token: &'a str) -> Self {
        Self { app, token }
    }

    async fn call(self, method: Method, path: &str, body: Value) -> Value {
        let res = self
            .app
            .send(method.clone(), path, self.token, Some(body))
            .await;
        let status = res.status();
        let text = res.text().await.unwrap();
        assert!(status.is_success(), "{method} {path}: {status} {text}");
        if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str::<Value>(&text).unwrap()["data"].clone()
        }
    }

    async fn get(self, path: &str) -> Value {
        self.call(Method::GET, path, json!(null)).await
    }

    async fn post(self, path: &str, body: Value) -> Value {
        self.call(Method::POST, path, body).await
    }

    async fn patch(self, path: &str, body: Value) -> Value {
        self.call(Method::PATCH, path, body).await
    }

    async fn delete(self, path: &str) -> Value {
        self.call(Method::DELETE, path, json!(null)).await
    }
}

async fn call(app: &TestApp, token: &str, method: Method, path: &str, body: Value) -> Value {
    Caller::new(app, token).call(method, path, body).await
}

async fn create_deal(app: &TestApp, token: &str, body: Value) -> Value {
    Caller::new(app, token).post("/api/deals", body).await
}

/// A signed-in user of `role` without the given permissions.
async fn user_without(app: &TestApp, role: Role, revokes: Vec<Permission>) -> (Uuid, String) {
    app.signed_in_as(UserBuilder::new(role).revoke(revokes))
        .await
}

// ---------------------------------------------------------------------------------------------
// The gateway

#[tokio::test]
async fn the_upgrade_is_refused_with_401_problem_json_without_a_valid_token() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Manager]).await;
    for url in [ws_url(&app), format!("{}?token=not-a-token", ws_url(&app))] {
        match tokio_tungstenite::connect_async(url).await {
            Err(WsError::Http(res)) => {
                assert_eq!(res.status(), 401);
                assert_eq!(
                    res.headers()["content-type"].to_str().unwrap(),
                    "application/problem+json"
                );
                let body: Value = serde_json::from_slice(res.body().as_ref().unwrap()).unwrap();
                assert!(
                    ["missing_token", "invalid_token"].contains(&body["code"].as_str().unwrap())
                );
            }
            other => panic!("expected a 401, got {other:?}"),
        }
    }
    // The query-string token works (browsers cannot set headers on a WebSocket).
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("{}?token={token}", ws_url(&app)))
        .await
        .unwrap();
    ws.close(None).await.unwrap();
    // A plain GET with a valid token is not an upgrade.
    let res = app.get("/websocket", &token).await;
    assert_problem(res, 400, "websocket_upgrade_required").await;
    let res = app.get("/websocket?tokn=x", &token).await;
    assert_problem(res, 400, "invalid_query").await;
}

#[tokio::test]
async fn bad_messages_get_errors_and_oversized_ones_close_the_socket() {
    let app = TestApp::spawn_realtime(|s| s.max_message_bytes = 1024).await;
    let (_, token) = app.signed_in(Role::Manager).await;
    let mut ws = Ws::connect(&app, &token).await;
    for (msg, code) in [
        ("{not json".to_owned(), "bad_request"),
        (json!({"action": "dance"}).to_string(), "bad_request"),
        (json!({"room": "deal:x"}).to_string(), "bad_request"),
        (json!({"action": "subscribe"}).to_string(), "bad_request"),
        (
            json!({"action": "subscribe", "room": "deal:x", "since": "1"}).to_string(),
            "bad_request",
        ),
    ] {
        ws.inner.send(Message::text(msg.clone())).await.unwrap();
        let answer = ws.recv().await;
        assert_eq!(answer["type"], "error", "{msg}");
        assert_eq!(answer["code"], code, "{msg}");
    }
    ws.refused(json!("deal:42"), "bad_request").await;
    ws.refused(json!(format!("company:{}", Uuid::now_v7())), "bad_request")
        .await;
    ws.refused(json!("nonsense"), "bad_request").await;
    ws.send(
        json!({"action": "subscribe", "room": format!("deal:{}", Uuid::now_v7()), "since": -1}),
    )
    .await;
    assert_eq!(ws.recv().await["code"], "bad_request");
    ws.inner
        .send(Message::binary(vec![1u8, 2, 3]))
        .await
        .unwrap();
    assert_eq!(ws.recv().await["code"], "bad_request");
    // Unsubscribing from a room one is not in is harmless.
    let room = format!("deal:{}", Uuid::now_v7());
    ws.send(json!({"action": "unsubscribe", "room": room}))
        .await;
    assert_eq!(
        ws.recv().await,
        json!({"type": "unsubscribed", "room": room})
    );
    // Over the size limit: closed with 1009.
    ws.inner
        .send(Message::text("x".repeat(5000)))
        .await
        .unwrap();
    let (frame, _) = ws.close().await;
    assert_eq!(frame.unwrap().0, 1009);
    // The server is fine.
    let res = app.send_anonymous(Method::GET, "/api/health", None).await;
    assert_eq!(res.status(), 200);
}

// ---------------------------------------------------------------------------------------------
// Events and payloads

#[tokio::test]
async fn deal_events_reach_the_deal_and_board_rooms_with_the_record_as_the_api_returns_it() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Manager]).await;
    let caller = Caller::new(&app, &token);
    let (pipeline, stages) = app.sales_stages().await;
    let deal = caller
        .post("/api/deals", json!({"title": "Alpha", "amount": "10.00"}))
        .await;
    let id = deal["id"].as_str().unwrap().to_owned();
    let deal_room = format!("deal:{id}");
    let board = format!("pipeline:{pipeline}");
    let mut card = Ws::connect(&app, &token).await;
    card.subscribe(&deal_room, None).await;
    let mut kanban = Ws::connect(&app, &token).await;
    kanban.subscribe(&board, None).await;

    let updated = caller
        .patch(
            &format!("/api/deals/{id}"),
            json!({"title": "Beta", "amount": "12.50"}),
        )
        .await;
    for (ws, room) in [(&mut card, &deal_room), (&mut kanban, &board)] {
        let events = ws.events(3).await;
        assert!(events.iter().all(|e| e["room"] == *room));
        assert!(events.windows(2).all(|w| seq(&w[0]) < seq(&w[1])));
        assert_eq!(events[0]["event"], "deal.updated");
        assert_eq!(events[0]["data"], updated);
        let fields: Vec<Value> = events[1..].iter().map(|e| e["data"].clone()).collect();
        assert!(
            events[1..]
                .iter()
                .all(|e| e["event"] == "deal.field.updated")
        );
        assert_eq!(
            fields,
            [
                json!({"dealId": id, "field": "amount", "from": "10.00", "to": "12.50"}),
                json!({"dealId": id, "field": "title", "from": "Alpha", "to": "Beta"}),
            ]
        );
    }

    let moved = caller
        .post(
            &format!("/api/deals/{id}/move"),
            json!({"stageId": stages[4]}),
        )
        .await;
    for ws in [&mut card, &mut kanban] {
        let events = ws.until(|e| e["event"] == "deal.stage.changed").await;
        assert_eq!(events[0]["event"], "deal.updated");
        assert_eq!(events[0]["data"], moved);
        assert_eq!(events.last().unwrap()["data"], moved);
        let changed: HashSet<String> = events
            .iter()
            .filter(|e| e["event"] == "deal.field.updated")
            .map(|e| e["data"]["field"].as_str().unwrap().to_owned())
            .collect();
        for f in ["stageId", "status", "closedAt"] {
            assert!(changed.contains(f), "{f} in {changed:?}");
        }
        let stage_change = events
            .iter()
            .find(|e| e["data"]["field"] == "stageId")
            .unwrap();
        assert_eq!(stage_change["data"]["from"], json!(stages[0]));
        assert_eq!(stage_change["data"]["to"], json!(stages[4]));
    }

    // A new deal on the board: deal.created in the board room only.
    let other = caller.post("/api/deals", json!({"title": "Gamma"})).await;
    let created = kanban.event().await;
    assert_eq!(created["event"], "deal.created");
    assert_eq!(created["data"], other);

    let res = app.delete(&format!("/api/deals/{id}"), &token).await;
    assert_eq!(res.status(), 204);
    for ws in [&mut card, &mut kanban] {
        let deleted = ws.event().await;
        assert_eq!(deleted["event"], "deal.deleted");
        assert_eq!(deleted["data"]["id"], json!(id));
        assert!(deleted["data"]["deletedAt"].is_string());
    }
    let restored = caller
        .post(&format!("/api/deals/{id}/restore"), json!({}))
        .await;
    let back = card.event().await;
    assert_eq!(back["event"], "deal.updated");
    assert_eq!(back["data"], restored);
}

#[tokio::test]
async fn contact_task_and_comment_events_reach_their_rooms() {
    let app = TestApp::spawn().await;
    let (me, token) = app.signed_in(Role::Manager).await;
    let caller = Caller::new(&app, &token);
    let me = me.user.id.0;
    let contact = caller
        .post("/api/contacts", json!({"fullName": "Ada"}))
        .await;
    let cid = contact["id"].as_str().unwrap().to_owned();
    let mut ws = Ws::connect(&app, &token).await;
    // contact.created happened before anyone could subscribe: a resume from 0 replays it.
    ws.subscribe(&format!("contact:{cid}"), Some(0)).await;
    let created = ws.event().await;
    assert_eq!(created["event"], "contact.created");
    assert_eq!(created["data"], contact);
    ws.subscribe(&format!("user:{me}"), None).await;

    let updated = caller
        .patch(&format!("/api/contacts/{cid}"), json!({"position": "CTO"}))
        .await;
    let e = ws.event().await;
    assert_eq!(
        (e["event"].clone(), e["data"].clone()),
        (json!("contact.updated"), updated)
    );

    let deal = caller
        .post(
            "/api/deals",
            json!({"title": "Ada's deal", "contactId": cid}),
        )
        .await;
    let did = deal["id"].as_str().unwrap().to_owned();
    let e = ws.event().await;
    assert_eq!(e["event"], "contact.deal.updated");
    assert_eq!(e["room"], format!("contact:{cid}"));
    assert_eq!(e["data"], deal);

    ws.subscribe(&format!("deal:{did}"), None).await;
    let task = caller
        .post("/api/tasks", json!({"title": "Call Ada", "dealId": did}))
        .await;
    let tid = task["id"].as_str().unwrap().to_owned();
    let mut got: Vec<(String, String)> = Vec::new();
    for e in ws.events(2).await {
        assert_eq!(e["data"], task);
        got.push((
            e["event"].as_str().unwrap().into(),
            e["room"].as_str().unwrap().into(),
        ));
    }
    got.sort();
    assert_eq!(
        got,
        [
            ("deal.task.created".into(), format!("deal:{did}")),
            ("task.created".into(), format!("user:{me}")),
        ]
    );

    ws.subscribe(&format!("task:{tid}"), None).await;
    let task2 = caller
        .patch(
            &format!("/api/tasks/{tid}"),
            json!({"status": "IN_PROGRESS"}),
        )
        .await;
    let mut rooms = HashSet::new();
    for e in ws.events(2).await {
        assert_eq!(e["event"], "task.updated");
        assert_eq!(e["data"], task2);
        rooms.insert(e["room"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        rooms,
        HashSet::from([format!("task:{tid}"), format!("user:{me}")])
    );

    for (kind, id) in [("contact", &cid), ("task", &tid), ("deal", &did)] {
        let comment = caller
            .post(
                "/api/comments",
                json!({"entityType": kind, "entityId": id, "content": "first"}),
            )
            .await;
        let e = ws.event().await;
        assert_eq!(e["event"], "comment.created");
        assert_eq!(e["room"], format!("{kind}:{id}"));
        assert_eq!(e["data"], comment);
        let path = format!("/api/comments/{}", comment["id"].as_str().unwrap());
        let edited = caller.patch(&path, json!({"content": "second"})).await;
        let e = ws.event().await;
        assert_eq!(
            (e["event"].clone(), e["data"].clone()),
            (json!("comment.updated"), edited)
        );
        let res = app.delete(&path, &token).await;
        assert_eq!(res.status(), 204);
        let e = ws.event().await;
        assert_eq!(e["event"], "comment.deleted");
        assert_eq!(e["data"]["id"], comment["id"]);
    }

    let res = app.delete(&format!("/api/tasks/{tid}"), &token).await;
    assert_eq!(res.status(), 204);
    let mut rooms = HashSet::new();
    for e in ws.events(2).await {
        assert_eq!(e["event"], "task.deleted");
        assert!(e["data"]["deletedAt"].is_string());
        rooms.insert(e["room"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        rooms,
        HashSet::from([format!("task:{tid}"), format!("user:{me}")])
    );

    let res = app.delete(&format!("/api/contacts/{cid}"), &token).await;
    assert_eq!(res.status(), 204);
    let e = ws.event().await;
    assert_eq!(e["event"], "contact.deleted");
    assert!(e["data"]["deletedAt"].is_string());
}

#[tokio::test]
async fn bulk_moves_emit_the_deal_as_the_api_returns_it() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let caller = Caller::new(&app, &token);
    let (pipeline, stages) = app.sales_stages().await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let d = caller.post("/api/deals", json!({"title": format!("Bulk {i}"), "stageId": stages[1], "amount": "99.90", "tags": ["x"]}))
        .await;
        ids.push(d["id"].as_str().unwrap().to_owned());
    }
    let mut ws = Ws::connect(&app, &token).await;
    ws.subscribe(&format!("pipeline:{pipeline}"), None).await;
    let res = app
        .delete(
            &format!("/api/stages/{}?moveDealsTo={}", stages[1], stages[5]),
            &token,
        )
        .await;
    assert_eq!(res.status(), 204);
    let mut seen = HashSet::new();
    while seen.len() < ids.len() {
        let e = ws.event().await;
        if e["event"] == "deal.stage.changed" {
            let id = e["data"]["id"].as_str().unwrap().to_owned();
            let api = caller.get(&format!("/api/deals/{id}")).await;
            assert_eq!(
                e["data"], api,
                "the event shows the deal exactly as GET does"
            );
            assert_eq!(api["status"], "lost");
            seen.insert(id);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Set-based rewrites: tags and custom-field definitions

/// The next `n` messages, ordered by `seq` and room (one event in two rooms arrives twice, in
/// no particular order of the rooms).
async fn next_events(ws: &mut Ws, n: usize) -> Vec<Value> {
    let mut got = ws.events(n).await;
    got.sort_by_key(|e| (seq(e), e["room"].as_str().unwrap().to_owned()));
    got
}

#[tokio::test]
async fn tag_rewrites_reach_every_room_as_normal_updates() {
    let app = TestApp::spawn().await;
    let (me, token) = app.signed_in(Role::Admin).await;
    let caller = Caller::new(&app, &token);
    let me = me.user.id.0;
    let (pipeline, _) = app.sales_stages().await;
    let contact = caller
        .post(
            "/api/contacts",
            json!({"fullName": "Tagged", "tags": ["vip", "x"]}),
        )
        .await;
    let cid = contact["id"].as_str().unwrap().to_owned();
    let deal = caller
        .post(
            "/api/deals",
            json!({"title": "Tagged deal", "contactId": cid, "tags": ["vip"]}),
        )
        .await;
    let did = deal["id"].as_str().unwrap().to_owned();
    let task = caller
        .post(
            "/api/tasks",
            json!({"title": "Tagged task", "tags": ["VIP"]}),
        )
        .await;
    let tid = task["id"].as_str().unwrap().to_owned();
    caller
        .post(
            "/api/companies",
            json!({"name": "Tagged Co", "tags": ["vip"]}),
        )
        .await;
    let mut ws = Ws::connect(&app, &token).await;
    let (board, contact_room, task_room, user_room) = (
        format!("pipeline:{pipeline}"),
        format!("contact:{cid}"),
        format!("task:{tid}"),
        format!("user:{me}"),
    );
    for room in [&board, &contact_room, &task_room, &user_room] {
        ws.subscribe(room, None).await;
    }
    let tag = caller.get("/api/tags?q=vip").await[0].clone();
    caller
        .patch(
            &format!("/api/tags/{}", tag["id"].as_str().unwrap()),
            json!({"name": "Premium"}),
        )
        .await;
    // Contacts, companies (no events), deals, tasks; the task's event reaches its room and
    // its assignee's.
    let got = next_events(&mut ws, 6).await;
    let seen: Vec<(&str, &str)> = got
        .iter()
        .map(|e| (e["event"].as_str().unwrap(), e["room"].as_str().unwrap()))
        .collect();
    let mut task_rooms = [task_room.as_str(), user_room.as_str()];
    task_rooms.sort();
    assert_eq!(
        seen,
        [
            ("contact.updated", contact_room.as_str()),
            ("deal.updated", board.as_str()),
            ("deal.field.updated", board.as_str()),
            ("contact.deal.updated", contact_room.as_str()),
            ("task.updated", task_rooms[0]),
            ("task.updated", task_rooms[1]),
        ]
    );
    let contact_now = caller.get(&format!("/api/contacts/{cid}")).await;
    let deal_now = caller.get(&format!("/api/deals/{did}")).await;
    let task_now = caller.get(&format!("/api/tasks/{tid}")).await;
    assert_eq!(got[0]["data"], contact_now, "the contact as GET shows it");
    assert_eq!(contact_now["tags"], json!(["Premium", "x"]));
    assert_eq!(got[1]["data"], deal_now, "the deal as GET shows it");
    assert_eq!(deal_now["version"], 2);
    assert_eq!(
        got[2]["data"],
        json!({"dealId": did, "field": "tags", "from": ["vip"], "to": ["Premium"]})
    );
    assert_eq!(got[3]["data"], deal_now);
    assert_eq!(got[4]["data"], task_now, "the task as GET shows it");
    assert_eq!(got[5]["data"], task_now);
    // Deleting the tag: the same once more, each record without it.
    caller
        .delete(&format!("/api/tags/{}", tag["id"].as_str().unwrap()))
        .await;
    let got = next_events(&mut ws, 6).await;
    assert_eq!(got[0]["data"]["tags"], json!(["x"]));
    assert_eq!(
        got[2]["data"],
        json!({"dealId": did, "field": "tags", "from": ["Premium"], "to": []})
    );
    assert_eq!(got[4]["data"]["tags"], json!([]));
}

#[tokio::test]
async fn custom_field_changes_reach_subscribers_as_normal_updates() {
    let app = TestApp::spawn().await;
    let (me, token) = app.signed_in(Role::Admin).await;
    let caller = Caller::new(&app, &token);
    let me = me.user.id.0;
    let (pipeline, stages) = app.sales_stages().await;
    let field = caller
        .post(
            "/api/custom-fields",
            json!({"entityType": "deal", "key": "seats", "type": "TEXT"}),
        )
        .await;
    let fid = field["id"].as_str().unwrap().to_owned();
    let deal = caller
        .post(
            "/api/deals",
            json!({"title": "Seats", "customFields": {"seats": "5"}}),
        )
        .await;
    let did = deal["id"].as_str().unwrap().to_owned();
    // A value stored under a key before it had a definition (written around the API).
    let legacy = Uuid::now_v7();
    {
        let mut conn = app.pool.get().await.unwrap();
        diesel::sql_query(
            "INSERT INTO deals (id, title, pipeline_id, stage_id, custom_fields) \
             VALUES ($1, 'Legacy', $2, $3, '{\"legacy\": \"42\"}')",
        )
        .bind::<diesel::sql_types::Uuid, _>(legacy)
        .bind::<diesel::sql_types::Uuid, _>(pipeline)
        .bind::<diesel::sql_types::Uuid, _>(stages[0])
        .execute(&mut conn)
        .await
        .unwrap();
    }
    let mut ws = Ws::connect(&app, &token).await;
    ws.subscribe(&format!("pipeline:{pipeline}"), None).await;
    let path = format!("/api/custom-fields/{fid}");
    let deal_path = format!("/api/deals/{did}");
    let seats = |from: Value, to: Value| json!({"dealId": did, "field": "customFields.seats", "from": from, "to": to});

    // Conversion: TEXT -> NUMBER.
    caller.patch(&path, json!({"type": "NUMBER"})).await;
    let got = ws.events(2).await;
    let now = caller.get(&deal_path).await;
    assert_eq!(
        (&got[0]["event"], &got[0]["data"]),
        (&json!("deal.updated"), &now)
    );
    assert_eq!(
        (now["customFields"].clone(), now["version"].clone()),
        (json!({"seats": 5}), json!(2))
    );
    assert_eq!(got[1]["event"], "deal.field.updated");
    assert_eq!(got[1]["data"], seats(json!("5"), json!(5)));
    // Deactivation hides the value (a new version), activation shows it again, deletion
    // removes it.
    for (method, body, fields, version, change) in [
        (
            Method::PATCH,
            json!({"isActive": false}),
            json!({}),
            3,
            seats(json!(5), Value::Null),
        ),
        (
            Method::PATCH,
            json!({"isActive": true}),
            json!({"seats": 5}),
            4,
            seats(Value::Null, json!(5)),
        ),
        (
            Method::DELETE,
            json!(null),
            json!({}),
            5,
            seats(json!(5), Value::Null),
        ),
    ] {
        caller.call(method, &path, body).await;
        let got = ws.events(2).await;
        let now = caller.get(&deal_path).await;
        assert_eq!(got[0]["data"], now);
        assert_eq!(
            (now["customFields"].clone(), now["version"].clone()),
            (fields, json!(version))
        );
        assert_eq!(got[1]["data"], change);
    }
    // Adoption of a value stored before the definition: "42" becomes 42.
    caller
        .post(
            "/api/custom-fields",
            json!({"entityType": "deal", "key": "legacy", "type": "NUMBER"}),
        )
        .await;
    let got = ws.events(2).await;
    let now = caller.get(&format!("/api/deals/{legacy}")).await;
    assert_eq!(got[0]["data"], now);
    assert_eq!(now["customFields"], json!({"legacy": 42}));
    assert_eq!(
        got[1]["data"],
        json!({"dealId": legacy, "field": "customFields.legacy", "from": "42", "to": 42})
    );

    // Contacts get contact.updated, tasks task.updated in their rooms and the assignee's.
    let plan = caller.post("/api/custom-fields", json!({"entityType": "contact", "key": "plan", "type": "SELECT", "options": ["a", "b"]}))
    .await;
    let contact = caller
        .post(
            "/api/contacts",
            json!({"fullName": "Planned", "customFields": {"plan": "b"}}),
        )
        .await;
    let cid = contact["id"].as_str().unwrap().to_owned();
    let effort = caller
        .post(
            "/api/custom-fields",
            json!({"entityType": "task", "key": "effort", "type": "NUMBER"}),
        )
        .await;
    let task = caller
        .post(
            "/api/tasks",
            json!({"title": "Estimated", "customFields": {"effort": 3}}),
        )
        .await;
    let tid = task["id"].as_str().unwrap().to_owned();
    ws.subscribe(&format!("contact:{cid}"), None).await;
    ws.subscribe(&format!("task:{tid}"), None).await;
    ws.subscribe(&format!("user:{me}"), None).await;
    caller
        .patch(
            &format!("/api/custom-fields/{}", plan["id"].as_str().unwrap()),
            json!({"type": "MULTI_SELECT"}),
        )
        .await;
    let e = ws.event().await;
    assert_eq!(e["event"], "contact.updated");
    assert_eq!(e["data"], caller.get(&format!("/api/contacts/{cid}")).await);
    assert_eq!(e["data"]["customFields"], json!({"plan": ["b"]}));
    caller
        .delete(&format!(
            "/api/custom-fields/{}",
            effort["id"].as_str().unwrap()
        ))
        .await;
    let got = next_events(&mut ws, 2).await;
    let now = caller.get(&format!("/api/tasks/{tid}")).await;
    let mut rooms: Vec<&str> = got.iter().map(|e| e["room"].as_str().unwrap()).collect();
    rooms.sort();
    let mut expected = [format!("task:{tid}"), format!("user:{me}")];
    expected.sort();
    assert_eq!(rooms, expected);
    for e in got {
        assert_eq!((&e["event"], &e["data"]), (&json!("task.updated"), &now));
    }
    assert_eq!(now["customFields"], json!({}));
}

// ---------------------------------------------------------------------------------------------
// Transactions, resume, ordering

#[tokio::test]
async fn a_rolled_back_write_emits_nothing() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Manager]).await;
    let caller = Caller::new(&app, &token);
    let deal = caller.post("/api/deals", json!({"title": "Before"})).await;
    let id: crm_core::DealId = deal["id"].as_str().unwrap().parse().unwrap();
    let mut ws = Ws::connect(&app, &token).await;
    ws.subscribe(&format!("deal:{id}"), None).await;

    // The service writes the change and its events, then the transaction rolls back.
    let mut conn = app.pool.get().await.unwrap();
    let rolled: Result<(), crm_deals::DealError> = conn
        .transaction(async |c| {
            let input = serde_json::from_value(json!({"title": "Ghost"})).unwrap();
            crm_deals::update_deal(c, &Actor::system(), id, input, None).await?;
            Err(crm_deals::DealError::Busy(id))
        })
        .await;
    assert!(rolled.is_err());
    drop(conn);
    // A write refused by If-Match changes nothing and emits nothing.
    let res = app
        .patch_if(
            &format!("/api/deals/{id}"),
            &token,
            42,
            json!({"title": "Stale"}),
        )
        .await;
    assert_eq!(res.status(), 412);
    caller
        .patch(&format!("/api/deals/{id}"), json!({"title": "Real"}))
        .await;
    let first = ws.event().await;
    assert_eq!(first["event"], "deal.updated");
    assert_eq!(first["data"]["title"], "Real");
    assert_eq!(first["data"]["version"], 2);
    let field = ws.event().await;
    assert_eq!(field["data"]["from"], "Before");
}

#[tokio::test]
async fn resume_replays_exactly_the_missed_events_then_continues_live() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Manager]).await;
    let caller = Caller::new(&app, &token);
    let deal = caller.post("/api/deals", json!({"title": "v1"})).await;
    let id = deal["id"].as_str().unwrap().to_owned();
    let room = format!("deal:{id}");
    let path = format!("/api/deals/{id}");
    let mut ws = Ws::connect(&app, &token).await;
    ws.subscribe(&room, None).await;
    caller.patch(&path, json!({"title": "v2"})).await;
    let seen = ws.events(2).await;
    let last = seq(&seen[1]);
    drop(ws);

    for v in ["v3", "v4"] {
        caller.patch(&path, json!({"title": v})).await;
    }
    let mut ws = Ws::connect(&app, &token).await;
    ws.subscribe(&room, Some(last)).await;
    let replayed = ws.events(4).await;
    caller.patch(&path, json!({"title": "v5"})).await;
    let live = ws.events(2).await;
    let all: Vec<&Value> = replayed.iter().chain(&live).collect();
    assert!(all.windows(2).all(|w| seq(w[0]) < seq(w[1])));
    assert!(seq(all[0]) > last);
    let titles: Vec<&Value> = all
        .iter()
        .filter(|e| e["event"] == "deal.updated")
        .map(|e| &e["data"]["title"])
        .collect();
    assert_eq!(titles, ["v3", "v4", "v5"]);

    // Resuming while writes keep coming: every version exactly once, in order.
    let last = seq(live.last().unwrap());
    drop(ws);
    let writer = {
        let (client, url, token) = (app.client.clone(), app.url(&path), token.clone());
        tokio::spawn(async move {
            for i in 0..20 {
                let res = client
                    .patch(&url)
                    .bearer_auth(&token)
                    .json(&json!({"title": format!("w{i}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200);
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(30)).await;
    let mut ws = Ws::connect(&app, &token).await;
    ws.subscribe(&room, Some(last)).await;
    let events = ws
        .until(|e| e["data"]["title"] == "w19" && e["event"] == "deal.updated")
        .await;
    writer.await.unwrap();
    assert!(events.windows(2).all(|w| seq(&w[0]) < seq(&w[1])));
    let versions: Vec<i64> = events
        .iter()
        .filter(|e| e["event"] == "deal.updated")
        .map(|e| e["data"]["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, (6..=25).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_since_outside_the_kept_events_asks_the_client_to_reload() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Manager]).await;
    let caller = Caller::new(&app, &token);
    let deal = caller.post("/api/deals", json!({"title": "Old"})).await;
    let id = deal["id"].as_str().unwrap();
    caller
        .patch(&format!("/api/deals/{id}"), json!({"title": "Newer"}))
        .await;
    settled(&app).await;
    let mut conn = app.pool.get().await.unwrap();
    let pruned = crm_events::prune(
        &mut conn,
        chrono::Utc::now() + chrono::TimeDelta::seconds(1),
    )
    .await
    .unwrap();
    assert!(pruned >= 3);
    let head = crm_events::head(&mut conn).await.unwrap();
    drop(conn);
    let mut ws = Ws::connect(&app, &token).await;
    let room = format!("deal:{id}");
    ws.send(json!({"action": "subscribe", "room": room, "since": 1}))
        .await;
    let e = ws.recv().await;
    assert_eq!(
        (e["type"].clone(), e["code"].clone()),
        (json!("error"), json!("resync_required"))
    );
    assert_eq!(e["room"], room);
    ws.send(json!({"action": "subscribe", "room": room, "since": head + 1000}))
        .await;
    assert_eq!(ws.recv().await["code"], "resync_required");
    // From the horizon on, resuming works.
    ws.subscribe(&room, Some(head)).await;
}

// ---------------------------------------------------------------------------------------------
// Access

#[tokio::test]
async fn rooms_are_only_for_those_who_may_read_the_record() {
    let app = TestApp::spawn().await;
    let own_only = vec![
        Permission::DealsReadAll,
        Permission::ContactsReadAll,
        Permission::TasksReadAll,
    ];
    let (alice, alice_token) = user_without(&app, Role::Manager, own_only.clone()).await;
    let (bob, bob_token) = user_without(&app, Role::Manager, own_only).await;
    let (_, blind_token) = user_without(&app, Role::Manager, vec![Permission::DealsRead]).await;
    let (pipeline, _) = app.sales_stages().await;
    let alices = create_deal(&app, &alice_token, json!({"title": "Alice's"})).await;
    let alices_id = alices["id"].as_str().unwrap();
    let contact = call(
        &app,
        &alice_token,
        Method::POST,
        "/api/contacts",
        json!({"fullName": "Eve"}),
    )
    .await;

    let mut ws = Ws::connect(&app, &bob_token).await;
    ws.refused(json!(format!("deal:{alices_id}")), "not_found")
        .await;
    ws.refused(
        json!(format!("contact:{}", contact["id"].as_str().unwrap())),
        "not_found",
    )
    .await;
    ws.refused(json!(format!("user:{alice}")), "forbidden")
        .await;
    ws.refused(json!(format!("deal:{}", Uuid::now_v7())), "not_found")
        .await;
    ws.refused(json!(format!("pipeline:{}", Uuid::now_v7())), "not_found")
        .await;
    ws.subscribe(&format!("user:{bob}"), None).await;
    let mut blind = Ws::connect(&app, &blind_token).await;
    blind
        .refused(json!(format!("deal:{alices_id}")), "forbidden")
        .await;
    blind
        .refused(json!(format!("pipeline:{pipeline}")), "forbidden")
        .await;

    // On the board Bob sees his own deals only: Alice's change never reaches him.
    ws.subscribe(&format!("pipeline:{pipeline}"), None).await;
    call(
        &app,
        &alice_token,
        Method::PATCH,
        &format!("/api/deals/{alices_id}"),
        json!({"title": "Secret"}),
    )
    .await;
    let bobs = create_deal(&app, &bob_token, json!({"title": "Bob's"})).await;
    let first = ws.event().await;
    assert_eq!(first["event"], "deal.created");
    assert_eq!(first["data"], bobs);

    // Assigning her deal to Bob lets him see it from then on.
    call(
        &app,
        &alice_token,
        Method::PATCH,
        &format!("/api/deals/{alices_id}"),
        json!({"assignedToId": bob}),
    )
    .await;
    let next = ws.event().await;
    assert_eq!(next["event"], "deal.updated");
    assert_eq!(next["data"]["assignedToId"], json!(bob));
}

#[tokio::test]
async fn a_connection_may_be_in_a_limited_number_of_rooms() {
    let app = TestApp::spawn_realtime(|s| s.max_rooms = 2).await;
    let (me, token) = app.signed_in(Role::Manager).await;
    let caller = Caller::new(&app, &token);
    let (pipeline, _) = app.sales_stages().await;
    let deal = caller.post("/api/deals", json!({"title": "One"})).await;
    let mut ws = Ws::connect(&app, &token).await;
    ws.subscribe(&format!("pipeline:{pipeline}"), None).await;
    ws.subscribe(&format!("user:{}", me.user.id), None).await;
    ws.refused(
        json!(format!("deal:{}", deal["id"].as_str().unwrap())),
        "too_many_rooms",
    )
    .await;
    // Subscribing again to a room one is in does not count twice.
    ws.subscribe(&format!("pipeline:{pipeline}"), None).await;
    ws.send(json!({"action": "unsubscribe", "room": format!("pipeline:{pipeline}")}))
        .await;
    assert_eq!(ws.recv().await["type"], "unsubscribed");
    ws.subscribe(&format!("deal:{}", deal["id"].as_str().unwrap()), None)
        .await;
}

// ---------------------------------------------------------------------------------------------
// Many instances, many writers, slow clients

#[tokio::test]
async fn two_instances_on_one_database_deliver_every_event_once_in_order_both_ways() {
    let a = TestApp::spawn().await;
    let b = a.another_instance().await;
    let (_, token) = a.signed_in(Role::Manager).await;
    let (pipeline, _) = a.sales_stages().await;
    let board = format!("pipeline:{pipeline}");
    let mut on_a = Ws::connect(&a, &token).await;
    on_a.subscribe(&board, None).await;
    let mut on_b = Ws::connect(&b, &token).await;
    on_b.subscribe(&board, None).await;

    let made_on_b = create_deal(&b, &token, json!({"title": "From B"})).await;
    let made_on_a = create_deal(&a, &token, json!({"title": "From A"})).await;
    for ws in [&mut on_a, &mut on_b] {
        let events = ws.events(2).await;
        assert_eq!(events[0]["data"], made_on_b);
        assert_eq!(events[1]["data"], made_on_a);
    }

    // Many concurrent writers through both instances: each subscriber gets every event
    // exactly once, in seq order.
    let mut deals = Vec::new();
    for i in 0..8 {
        let d = create_deal(&a, &token, json!({"title": format!("c{i}")})).await;
        deals.push(d["id"].as_str().unwrap().to_owned());
    }
    for ws in [&mut on_a, &mut on_b] {
        ws.events(8).await;
    }
    let mut writers = Vec::new();
    for (i, id) in deals.iter().enumerate() {
        let base = if i % 2 == 0 { a.url("") } else { b.url("") };
        let (client, token, id) = (a.client.clone(), token.clone(), id.clone());
        writers.push(tokio::spawn(async move {
            for n in 0..10 {
                let res = client
                    .patch(format!("{base}/api/deals/{id}"))
                    .bearer_auth(&token)
                    .json(&json!({"title": format!("c{i}-{n}")}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200);
            }
        }));
    }
    for w in writers {
        w.await.unwrap();
    }
    for ws in [&mut on_a, &mut on_b] {
        // 80 updates, each a deal.updated and one deal.field.updated (the title).
        let events = ws.events(160).await;
        assert!(
            events.windows(2).all(|w| seq(&w[0]) < seq(&w[1])),
            "in seq order"
        );
        let updates: HashSet<(String, i64)> = events
            .iter()
            .filter(|e| e["event"] == "deal.updated")
            .map(|e| {
                (
                    e["data"]["id"].as_str().unwrap().to_owned(),
                    e["data"]["version"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(updates.len(), 80, "every update once");
    }
    // Nothing more: a marker write arrives next on both.
    let marker = create_deal(&b, &token, json!({"title": "Marker"})).await;
    for ws in [&mut on_a, &mut on_b] {
        assert_eq!(ws.event().await["data"], marker);
    }
}

#[tokio::test]
async fn events_arrive_by_the_catch_up_read_when_notifications_are_lost() {
    let app = TestApp::spawn_realtime(|s| {
        s.listen = false;
        s.poll_interval = Duration::from_millis(200);
    })
    .await;
    let (_, token) = app.signed_in(Role::Manager).await;
    let caller = Caller::new(&app, &token);
    let (pipeline, _) = app.sales_stages().await;
    let mut ws = Ws::connect(&app, &token).await;
    ws.subscribe(&format!("pipeline:{pipeline}"), None).await;
    let deal = caller.post("/api/deals", json!({"title": "Polled"})).await;
    assert_eq!(ws.event().await["data"], deal);
}

#[tokio::test]
async fn bursts_larger_than_the_send_queue_are_caught_up_from_the_outbox() {
    let app = TestApp::spawn_realtime(|s| s.send_queue = 8).await;
    let (_, token) = app.signed_in(Role::Admin).await;
    let caller = Caller::new(&app, &token);
    let (pipeline, stages) = app.sales_stages().await;
    let board = format!("pipeline:{pipeline}");
    let description = "lorem ipsum ".repeat(400);
    let items: Vec<Value> = (0..60)
        .map(|i| json!({"title": format!("Fat {i}"), "stageId": stages[2], "description": description}))
        .collect();
    caller
        .post("/api/deals/batch", json!({"items": items}))
        .await;
    let mut fast = Ws::connect(&app, &token).await;
    fast.subscribe(&board, None).await;
    // Each toggle of the stage type is one transaction with 180 events: far more than the
    // queue of 8. The client is skipped while its queue is full and catches up by itself.
    let toggles = 5;
    let expected = 60 * 3 * toggles;
    let reader = tokio::spawn(async move {
        let events = fast.events(expected).await;
        (fast, events)
    });
    for t in 0..toggles {
        let kind = if t % 2 == 0 { "WON" } else { "OPEN" };
        let path = format!("/api/stages/{}", stages[2]);
        caller.patch(&path, json!({"type": kind})).await;
    }
    let (mut fast, events) = timeout(Duration::from_secs(120), reader)
        .await
        .unwrap()
        .unwrap();
    assert!(
        events.windows(2).all(|w| seq(&w[0]) < seq(&w[1])),
        "once, in order"
    );
    let updates = events
        .iter()
        .filter(|e| e["event"] == "deal.updated")
        .count();
    assert_eq!(updates, 60 * toggles);
    let marker = caller
        .post("/api/deals", json!({"title": "Still here"}))
        .await;
    assert_eq!(fast.event().await["data"], marker);
}

// ---------------------------------------------------------------------------------------------
// Liveness, credentials, reminders, shutdown

/// The WebSocket handshake by hand on `stream`, which must be upgraded.
async fn upgrade_by_hand(stream: &mut TcpStream, token: &str) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let request = format!(
        "GET /websocket HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
         Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    while !head.ends_with(b"\r\n\r\n") {
        let mut byte = [0u8; 1];
        stream.read_exact(&mut byte).await.unwrap();
        head.push(byte[0]);
    }
    assert!(String::from_utf8_lossy(&head).starts_with("HTTP/1.1 101"));
}

/// A WebSocket client that never sends a frame (not even a pong): the handshake by hand,
/// then the raw bytes the server sent.
async fn silent_client(app: &TestApp, token: &str) -> TcpStream {
    let mut stream = TcpStream::connect(&app.base["http://".len()..])
        .await
        .unwrap();
    upgrade_by_hand(&mut stream, token).await;
    stream
}

/// The opcodes of the frames a silent client got until the server hung up, and the code of
/// the close frame.
async fn frames_until_hang_up(mut stream: TcpStream) -> (Vec<u8>, Option<u16>) {
    use tokio::io::AsyncReadExt;
    let mut bytes = Vec::new();
    timeout(WAIT, stream.read_to_end(&mut bytes))
        .await
        .expect("the server hangs up")
        .unwrap();
    let (mut i, mut opcodes, mut code) = (0, Vec::new(), None);
    while i + 2 <= bytes.len() {
        let opcode = bytes[i] & 0x0f;
        let (len, start) = match bytes[i + 1] & 0x7f {
            126 => (
                usize::from(u16::from_be_bytes([bytes[i + 2], bytes[i + 3]])),
                i + 4,
            ),
            127 => panic!("no huge frames expected"),
            n => (usize::from(n), i + 2),
        };
        if opcode == 8 && len >= 2 {
            code = Some(u16::from_be_bytes([bytes[start], bytes[start + 1]]));
        }
        opcodes.push(opcode);
        i = start + len;
    }
    (opcodes, code)
}

/// Reads one whole frame of a raw WebSocket stream: (opcode, payload).
async fn read_frame(stream: &mut TcpStream) -> (u8, Vec<u8>) {
    use tokio::io::AsyncReadExt;
    let mut head = [0u8; 2];
    stream.read_exact(&mut head).await.unwrap();
    let len = match head[1] & 0x7f {
        126 => {
            let mut l = [0u8; 2];
            stream.read_exact(&mut l).await.unwrap();
            usize::from(u16::from_be_bytes(l))
        }
        127 => panic!("no huge frames expected"),
        n => usize::from(n),
    };
    let mut payload = vec![0u8; len];
    stream.read_exact(&mut payload).await.unwrap();
    (head[0] & 0x0f, payload)
}

/// A client that subscribes to `room` (by hand, with a tiny receive buffer) and then stops
/// reading: the server's writes to it soon block.
async fn stalled_client(app: &TestApp, token: &str, room: &str) -> TcpStream {
    use tokio::io::AsyncWriteExt;
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let mut stream = socket
        .connect(app.base["http://".len()..].parse().unwrap())
        .await
        .unwrap();
    upgrade_by_hand(&mut stream, token).await;
    // A masked text frame, as clients must send.
    let text = json!({"action": "subscribe", "room": room}).to_string();
    let mask = [7u8, 13, 42, 99];
    let mut frame = vec![0x81, 0x80 | u8::try_from(text.len()).unwrap()];
    frame.extend_from_slice(&mask);
    frame.extend(text.bytes().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    stream.write_all(&frame).await.unwrap();
    loop {
        let (opcode, payload) = timeout(WAIT, read_frame(&mut stream)).await.unwrap();
        if opcode == 1 {
            let reply: Value = serde_json::from_slice(&payload).unwrap();
            assert_eq!(reply["type"], "subscribed", "{reply}");
            return stream;
        }
    }
}

#[tokio::test]
async fn a_client_that_stops_reading_is_cut_off_while_the_others_keep_receiving() {
    let app = TestApp::spawn_realtime(|s| {
        s.send_queue = 256;
        s.write_timeout = Duration::from_millis(500);
    })
    .await;
    let (_, token) = app.signed_in(Role::Admin).await;
    let caller = Caller::new(&app, &token);
    let (pipeline, stages) = app.sales_stages().await;
    let board = format!("pipeline:{pipeline}");
    let stalled = stalled_client(&app, &token, &board).await;
    let mut healthy = Ws::connect(&app, &token).await;
    healthy.subscribe(&board, None).await;
    // Megabytes of events: far more than the stalled socket's buffers hold.
    let (batches, per_batch) = (20, 40);
    let expected = batches * per_batch;
    let reader = tokio::spawn(async move { healthy.events(expected).await });
    let description = "lorem ipsum ".repeat(400);
    for b in 0..batches {
        let items: Vec<Value> = (0..per_batch)
            .map(|i| json!({"title": format!("Fat {b}-{i}"), "stageId": stages[0], "description": description}))
            .collect();
        caller
            .post("/api/deals/batch", json!({"items": items}))
            .await;
    }
    let events = timeout(WAIT * 2, reader).await.unwrap().unwrap();
    assert!(
        events.iter().all(|e| e["event"] == "deal.created"),
        "only the creations"
    );
    assert!(
        events.windows(2).all(|w| seq(&w[0]) < seq(&w[1])),
        "once, in order"
    );
    let titles: HashSet<&str> = events
        .iter()
        .map(|e| e["data"]["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles.len(), expected, "every deal once");
    // The stalled client was disconnected as too slow. Its close frame waits behind the
    // frames its socket did not take, so it can arrive only if the client reads again during
    // the closing handshake: it reads as soon as the server has let it go, and finds the end
    // of what the server could still queue, then the close frame and the hang-up.
    timeout(WAIT, async {
        while app.realtime.connections() > 1 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the stalled client is let go");
    let (opcodes, code) = frames_until_hang_up(stalled).await;
    assert!(
        opcodes.iter().filter(|o| **o == 1).count() < expected,
        "cut off early"
    );
    // The close frame has to pass a socket the client left full; it does most of the time,
    // but under load the closing handshake can end first and the client sees only the hang-up.
    assert!(matches!(code, None | Some(4008)), "{code:?}: {opcodes:?}");
}

#[tokio::test]
async fn idle_clients_are_closed_and_reading_ones_stay() {
    let app = TestApp::spawn_realtime(|s| {
        s.heartbeat = Duration::from_millis(200);
        s.idle_timeout = Duration::from_millis(800);
    })
    .await;
    let (me, token) = app.signed_in(Role::Manager).await;
    let silent = silent_client(&app, &token).await;
    let mut reading = Ws::connect(&app, &token).await;
    let room = format!("user:{}", me.user.id);
    reading.subscribe(&room, None).await;
    // The reading client answers pings (tungstenite does while it reads) and stays open.
    let reader = tokio::spawn(async move {
        let mut pings = 0;
        while pings < 12 {
            match reading.inner.next().await {
                Some(Ok(Message::Ping(_))) => pings += 1,
                Some(Ok(_)) => {}
                other => panic!("the reading client was closed: {other:?}"),
            }
        }
        reading
    });
    // The silent client is pinged, never answers, and is closed with 4000.
    let (opcodes, code) = frames_until_hang_up(silent).await;
    assert!(opcodes.contains(&9), "pinged: {opcodes:?}");
    assert_eq!(code, Some(4000));
    let mut reading = timeout(WAIT, reader).await.unwrap().unwrap();
    reading
        .send(json!({"action": "unsubscribe", "room": room}))
        .await;
    assert_eq!(reading.recv().await["type"], "unsubscribed");
}

#[tokio::test]
async fn an_expired_access_token_closes_the_socket_with_4001() {
    let app = TestApp::spawn_with(|auth, _| auth.access_ttl = Duration::from_secs(2)).await;
    let (me, token) = app.signed_in(Role::Manager).await;
    let mut ws = Ws::connect(&app, &token).await;
    ws.subscribe(&format!("user:{}", me.user.id), None).await;
    let (frame, _) = ws.close().await;
    let (code, reason) = frame.unwrap();
    assert_eq!(code, 4001);
    assert!(reason.contains("token"), "{reason}");
}

#[tokio::test]
async fn a_deactivated_user_is_disconnected_on_the_next_subscribe() {
    let (app, [admin]) = TestApp::spawn_signed_in([Role::Admin]).await;
    let (me, token) = app.signed_in(Role::Manager).await;
    let mut ws = Ws::connect(&app, &token).await;
    ws.subscribe(&format!("user:{}", me.user.id), None).await;
    call(
        &app,
        &admin,
        Method::PATCH,
        &format!("/api/users/{}", me.user.id),
        json!({"isActive": false}),
    )
    .await;
    ws.send(json!({"action": "subscribe", "room": format!("user:{}", me.user.id)}))
        .await;
    let (frame, _) = ws.close().await;
    assert_eq!(frame.unwrap().0, 4001);
}

#[tokio::test]
async fn a_task_reminds_its_assignee_once_at_remind_at_and_once_at_due_at() {
    let app = TestApp::spawn_realtime(|s| s.reminder_interval = Duration::from_millis(200)).await;
    let second = app.another_instance().await;
    let (me, token) = app.signed_in(Role::Manager).await;
    let caller = Caller::new(&app, &token);
    let mut ws = Ws::connect(&app, &token).await;
    ws.subscribe(&format!("user:{}", me.user.id), None).await;
    let remind = chrono::Utc::now() + chrono::TimeDelta::seconds(1);
    let due = remind + chrono::TimeDelta::milliseconds(800);
    let task = caller
        .post(
            "/api/tasks",
            json!({"title": "Soon", "remindAt": remind, "dueAt": due}),
        )
        .await;
    assert_eq!(ws.event().await["event"], "task.created");
    let reminder = ws.event().await;
    assert_eq!(reminder["event"], "task.reminder");
    assert_eq!(reminder["data"]["id"], task["id"]);
    assert_eq!(reminder["data"]["remindAt"], task["remindAt"]);
    let due_now = ws.event().await;
    assert_eq!(due_now["event"], "task.due");
    assert_eq!(due_now["data"]["id"], task["id"]);
    // Both instances run the job; each fired once: the next event is the marker.
    tokio::time::sleep(Duration::from_millis(600)).await;
    let marker = caller.post("/api/tasks", json!({"title": "Marker"})).await;
    let next = ws.event().await;
    assert_eq!(next["event"], "task.created");
    assert_eq!(next["data"], marker);
    drop(second);
}

#[tokio::test]
async fn shutdown_closes_sockets_with_1001_and_a_reason() {
    let app = TestApp::spawn().await;
    let (me, token) = app.signed_in(Role::Manager).await;
    let mut ws = Ws::connect(&app, &token).await;
    ws.subscribe(&format!("user:{}", me.user.id), None).await;
    let stopping = {
        let hub = app.realtime.clone();
        tokio::spawn(async move { hub.shutdown() })
    };
    stopping.await.unwrap();
    let (frame, _) = ws.close().await;
    let (code, reason) = frame.unwrap();
    assert_eq!(code, 1001);
    assert!(reason.contains("shutting down"));
    app.shutdown().await;
}

#[tokio::test]
async fn subscribing_again_to_a_room_answers_subscribed_again_and_events_come_once() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Manager]).await;
    let caller = Caller::new(&app, &token);
    let deal = caller.post("/api/deals", json!({"title": "Twice"})).await;
    let id = deal["id"].as_str().unwrap().to_owned();
    let room = format!("deal:{id}");
    let mut ws = Ws::connect(&app, &token).await;
    ws.subscribe(&room, None).await;
    ws.subscribe(&room, None).await;
    // Sent back to back, before the room confirmed: still one answer each.
    let again = json!({"action": "subscribe", "room": room});
    ws.send(again.clone()).await;
    ws.send(again).await;
    for _ in 0..2 {
        assert_eq!(ws.recv().await, json!({"type": "subscribed", "room": room}));
    }
    caller
        .patch(&format!("/api/deals/{id}"), json!({"title": "Once"}))
        .await;
    let events = ws.events(2).await;
    assert_eq!(events[0]["event"], "deal.updated");
    assert_eq!(events[1]["event"], "deal.field.updated");
    // Nothing twice: the next event is the marker's.
    caller
        .patch(
            &format!("/api/deals/{id}"),
            json!({"description": "marker"}),
        )
        .await;
    let next = ws.event().await;
    assert_eq!(next["event"], "deal.updated");
    assert_eq!(next["data"]["description"], "marker");
}

#[tokio::test]
async fn live_events_resume_within_seconds_of_the_database_coming_back() {
    let (app, [token]) = TestApp::spawn_signed_in([Role::Manager]).await;
    let caller = Caller::new(&app, &token);
    let deal = caller.post("/api/deals", json!({"title": "Outage"})).await;
    let id = deal["id"].as_str().unwrap().to_owned();
    let mut ws = Ws::connect(&app, &token).await;
    ws.subscribe(&format!("deal:{id}"), None).await;

    app.db.cut_off().await;
    // Long enough for a doubling back-off to reach several seconds between attempts.
    tokio::time::sleep(Duration::from_secs(8)).await;
    app.db.restore().await;
    let back = std::time::Instant::now();
    // The pool heals at the first checkout; retry the write until it lands.
    loop {
        let res = app
            .patch(
                &format!("/api/deals/{id}"),
                &token,
                json!({"title": "After"}),
            )
            .await;
        if res.status().is_success() {
            break;
        }
        assert!(
            back.elapsed() < WAIT,
            "writes did not come back: {}",
            res.status()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let event = ws.event().await;
    let delay = back.elapsed();
    assert_eq!(event["event"], "deal.updated");
    assert_eq!(event["data"]["title"], "After");
    // Reconnecting backs off to at most a second; 4 s leaves room for a loaded machine.
    assert!(
        delay < Duration::from_secs(4),
        "live events resumed {delay:?} after the database"
    );
}

#[tokio::test]
async fn a_client_sending_faster_than_allowed_is_told_to_slow_down() {
    let app = TestApp::spawn_realtime(|r| r.max_rooms = 5).await;
    let (_, token) = app.signed_in(Role::Manager).await;
    let mut ws = Ws::connect(&app, &token).await;
    let room = format!("deal:{}", Uuid::now_v7());
    for _ in 0..60 {
        ws.send(json!({"action": "unsubscribe", "room": room}))
            .await;
    }
    let mut answers = Vec::new();
    for _ in 0..60 {
        answers.push(ws.recv().await);
    }
    assert!(
        answers[..20].iter().all(|a| a["type"] == "unsubscribed"),
        "{answers:?}"
    );
    let limited = answers
        .iter()
        .filter(|a| a["code"] == "rate_limited")
        .count();
    assert!(limited > 0, "{answers:?}");
}
