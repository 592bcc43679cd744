//! `crm-ws-load`: N WebSocket clients, each subscribed to one board (`pipeline:{id}`) and to
//! its own deal's room, while the deals are updated round-robin at a steady rate. Measures
//! commit-to-delivery latency (`data.updatedAt`, set just before the commit, to receipt) of
//! `deal.updated`, counts deliveries (each update must reach the N board subscribers and the
//! one deal subscriber) and reads the server's RSS before and after the clients connected.
//!
//! Settings by environment: `WS_URL` (http://host:port), `WS_TOKEN`, `WS_PIPELINE`,
//! `WS_CLIENTS` (200), `WS_RATE` (updates per second, 20), `WS_SECONDS` (10),
//! `WS_SERVER_PID` (for RSS).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{Mutex, Semaphore};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

fn env(name: &str, default: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| default.to_owned())
}

fn rss_kib(pid: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|v| v.parse().unwrap_or(0)))
        })
        .unwrap_or(0)
}

#[tokio::main]
async fn main() {
    let base = env("WS_URL", "http://127.0.0.1:3000");
    let token = env("WS_TOKEN", "");
    let pipeline = env("WS_PIPELINE", "");
    let clients: usize = env("WS_CLIENTS", "200").parse().unwrap();
    let rate: u64 = env("WS_RATE", "20").parse().unwrap();
    let seconds: u64 = env("WS_SECONDS", "10").parse().unwrap();
    let pid = env("WS_SERVER_PID", "self");
    let http = reqwest::Client::new();

    // One deal per client.
    let mut deals: Vec<String> = Vec::with_capacity(clients);
    while deals.len() < clients {
        let n = (clients - deals.len()).min(100);
        let items: Vec<Value> = (0..n)
            .map(|i| json!({"title": format!("ws bench {}", deals.len() + i), "pipelineId": pipeline}))
            .collect();
        let res: Value = http
            .post(format!("{base}/api/deals/batch"))
            .bearer_auth(&token)
            .json(&json!({"items": items}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for item in res["data"].as_array().unwrap() {
            deals.push(item["data"]["id"].as_str().unwrap().to_owned());
        }
    }

    let rss_before = rss_kib(&pid);
    let latencies = Arc::new(Mutex::new(Vec::<f64>::new()));
    let received = Arc::new(AtomicU64::new(0));
    let ready = Arc::new(AtomicU64::new(0));
    let connecting = Arc::new(Semaphore::new(200));
    let ws_url = format!("{}/websocket", base.replacen("http://", "ws://", 1));
    let mut tasks = Vec::new();
    for deal in &deals {
        let (url, token, pipeline, deal) = (
            ws_url.clone(),
            token.clone(),
            pipeline.clone(),
            deal.clone(),
        );
        let (latencies, received, ready, connecting) = (
            latencies.clone(),
            received.clone(),
            ready.clone(),
            connecting.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let permit = connecting.acquire_owned().await.unwrap();
            let mut req = url.into_client_request().unwrap();
            req.headers_mut()
                .insert("authorization", format!("Bearer {token}").parse().unwrap());
            let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
            for room in [format!("pipeline:{pipeline}"), format!("deal:{deal}")] {
                let msg = json!({"action": "subscribe", "room": room}).to_string();
                ws.send(Message::text(msg)).await.unwrap();
            }
            let mut subscribed = 0;
            let mut mine = Vec::new();
            while let Some(Ok(msg)) = ws.next().await {
                let Message::Text(text) = msg else { continue };
                let v: Value = serde_json::from_str(&text).unwrap();
                if v["type"] == "subscribed" {
                    subscribed += 1;
                    if subscribed == 2 {
                        ready.fetch_add(1, Ordering::Relaxed);
                        drop(permit);
                        break;
                    }
                }
            }
            while let Some(Ok(msg)) = ws.next().await {
                let Message::Text(text) = msg else { continue };
                let v: Value = serde_json::from_str(&text).unwrap();
                if v["type"] == "event" && v["event"] == "deal.updated" {
                    let now = chrono::Utc::now();
                    if let Some(t) = v["data"]["updatedAt"]
                        .as_str()
                        .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                    {
                        mine.push(
                            (now - t.with_timezone(&chrono::Utc))
                                .num_microseconds()
                                .unwrap_or(0) as f64
                                / 1000.0,
                        );
                    }
                    received.fetch_add(1, Ordering::Relaxed);
                    if mine.len() % 64 == 0 {
                        latencies.lock().await.append(&mut mine);
                    }
                }
                if v["type"] == "stop" {
                    break;
                }
            }
            latencies.lock().await.append(&mut mine);
        }));
    }
    let t0 = Instant::now();
    while (ready.load(Ordering::Relaxed) as usize) < clients {
        assert!(
            t0.elapsed() < Duration::from_secs(600),
            "clients did not connect"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let connect_secs = t0.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let rss_connected = rss_kib(&pid);

    // Steady writes, round-robin over the deals.
    let total = rate * seconds;
    let mut ticker = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    let writes = Arc::new(Semaphore::new(16));
    let mut pending = Vec::new();
    for n in 0..total {
        ticker.tick().await;
        let permit = writes.clone().acquire_owned().await.unwrap();
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        let deal = deals[(n as usize) % deals.len()].clone();
        pending.push(tokio::spawn(async move {
            let res = http
                .patch(format!("{base}/api/deals/{deal}"))
                .bearer_auth(&token)
                .json(&json!({"title": format!("update {n}")}))
                .send()
                .await
                .unwrap();
            assert!(res.status().is_success(), "{}", res.status());
            drop(permit);
        }));
    }
    for p in pending {
        p.await.unwrap();
    }
    let expected = total * (clients as u64 + 1);
    let t1 = Instant::now();
    while received.load(Ordering::Relaxed) < expected && t1.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let got = received.load(Ordering::Relaxed);
    let rss_after = rss_kib(&pid);
    for t in &tasks {
        t.abort();
    }
    let mut l = latencies.lock().await.clone();
    l.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pct = |p: f64| {
        l.get(((l.len() as f64 - 1.0) * p) as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    let per_conn = (rss_connected.saturating_sub(rss_before)) as f64 / clients as f64;
    println!(
        "| {clients} | {total} ({rate}/s) | {expected} | {got}{} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} MiB → {:.1} MiB ({:.1} KiB/conn) | {connect_secs:.1} s |",
        if got == expected { "" } else { " ⚠" },
        pct(0.5),
        pct(0.99),
        l.last().copied().unwrap_or(f64::NAN),
        rss_before as f64 / 1024.0,
        rss_after.max(rss_connected) as f64 / 1024.0,
        per_conn,
    );
    if got != expected {
        std::process::exit(1);
    }
}
