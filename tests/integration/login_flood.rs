//! A login flood must not take the API down: attempts are counted before any password is
//! checked (so concurrency cannot beat the limit), no database connection waits on the hashing
//! threads, a full hashing queue is refused at once, and a stranger cannot lock a user out.

use std::time::{Duration, Instant};

use crm_core::Role;
use crm_users::{HashingLimits, Passwords};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::{PASSWORD, TestApp, assert_problem};

/// A valid argon2id PHC string that costs about a second to check (8 MiB, 100 passes); it
/// matches no password, so checking it keeps a hashing thread busy and fails.
const SLOW_HASH: &str = "$argon2id$v=19$m=8192,t=100,p=1$c29tZXNhbHRzb21lc2FsdA$\
                         AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

async fn failures_recorded(app: &TestApp) -> i64 {
    let mut conn = app.pool.get().await.unwrap();
    crm_db::schema::login_failures::table
        .count()
        .get_result(&mut conn)
        .await
        .unwrap()
}

async fn login_from(app: &TestApp, ip: &str, email: &str, password: &str) -> reqwest::Response {
    app.request(Method::POST, "/api/auth/login")
        .header("x-forwarded-for", ip)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
}

/// Keeps the only hashing thread of `passwords` busy for about a second.
fn occupy_the_hashing_thread(passwords: &Passwords) -> tokio::task::JoinHandle<bool> {
    let slot = passwords.reserve().unwrap();
    tokio::spawn(async move { slot.verify(Some(SLOW_HASH), "x").await })
}

#[tokio::test]
async fn concurrent_wrong_logins_check_exactly_the_limit_and_the_rest_get_429() {
    let passwords = Passwords::fast_for_tests_with(HashingLimits {
        threads: 2,
        queue: 100,
        ..HashingLimits::default()
    })
    .unwrap();
    let app = TestApp::spawn_with_passwords(passwords, |_, _| {}).await;
    let user = app.create_user(Role::Viewer).await;
    let attempts = (0..40).map(|_| app.login(&user.email, "wrong password"));
    let statuses: Vec<u16> = futures_util::future::join_all(attempts)
        .await
        .iter()
        .map(|r| r.status().as_u16())
        .collect();
    let checked = statuses.iter().filter(|s| **s == 401).count();
    let limited = statuses.iter().filter(|s| **s == 429).count();
    assert_eq!((checked, limited), (5, 35), "{statuses:?}");
    assert_eq!(failures_recorded(&app).await, 5);
    // The right password from the same address waits like everyone else.
    assert_problem(app.login(&user.email, PASSWORD).await, 429, "rate_limited").await;
}

#[tokio::test]
async fn a_stranger_cannot_lock_a_user_out_but_many_addresses_together_can() {
    let app = TestApp::spawn_with(|auth, http| {
        http.trust_proxy = true;
        auth.login_limits.per_email = 8;
    })
    .await;
    let user = app.create_user(Role::Viewer).await;
    for _ in 0..5 {
        let res = login_from(&app, "203.0.113.9", &user.email, "guess").await;
        assert_problem(res, 401, "invalid_credentials").await;
    }
    let res = login_from(&app, "203.0.113.9", &user.email, PASSWORD).await;
    assert_problem(res, 429, "rate_limited").await;
    // The user, from their own address, is not affected.
    let res = login_from(&app, "198.51.100.7", &user.email, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::OK);
    // A guessing attack spread over addresses still stops at the per-e-mail limit.
    for ip in ["203.0.113.10", "203.0.113.10", "203.0.113.11"] {
        let res = login_from(&app, ip, &user.email, "guess").await;
        assert_problem(res, 401, "invalid_credentials").await;
    }
    let res = login_from(&app, "198.51.100.7", &user.email, PASSWORD).await;
    assert_problem(res, 429, "rate_limited").await;
}

#[tokio::test]
async fn logins_waiting_for_a_hashing_thread_hold_no_database_connection() {
    let passwords = Passwords::fast_for_tests_with(HashingLimits {
        threads: 1,
        queue: 50,
        ..HashingLimits::default()
    })
    .unwrap();
    let app = TestApp::spawn_with_passwords(passwords.clone(), |auth, _| {
        auth.login_limits.per_email_and_ip = 100;
        auth.login_limits.per_email = 100;
    })
    .await;
    let (user, token) = app.signed_in(Role::Viewer).await;
    let blocker = occupy_the_hashing_thread(&passwords);
    // More waiting logins than the pool has connections (8).
    let waiting: Vec<_> = (0..12)
        .map(|_| {
            let req = app
                .request(Method::POST, "/api/auth/login")
                .json(&json!({"email": user.email, "password": "wrong"}));
            tokio::spawn(req.send())
        })
        .collect();
    // Every attempt is counted, then waits for the hashing thread; the connections go back.
    let started = Instant::now();
    loop {
        let status = app.pool.status();
        let in_use = status.size - status.available;
        if failures_recorded(&app).await == 12 && in_use < 2 {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "connections in use while logins wait for hashing: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(passwords.in_use(), 13);
    // The rest of the API works meanwhile.
    let me = app.get("/api/auth/me", &token).await;
    assert_eq!(me.status(), StatusCode::OK);
    assert!(!blocker.await.unwrap());
    for res in waiting {
        assert_eq!(
            res.await.unwrap().unwrap().status(),
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn a_full_hashing_queue_answers_503_at_once_and_counts_no_attempt() {
    let passwords = Passwords::fast_for_tests_with(HashingLimits {
        threads: 1,
        queue: 0,
        ..HashingLimits::default()
    })
    .unwrap();
    let app = TestApp::spawn_with_passwords(passwords.clone(), |_, _| {}).await;
    let user = app.create_user(Role::Viewer).await;
    let blocker = occupy_the_hashing_thread(&passwords);
    let res = app.login(&user.email, PASSWORD).await;
    assert_eq!(res.headers()["retry-after"], "1");
    assert_problem(res, 503, "server_busy").await;
    assert_eq!(failures_recorded(&app).await, 0);
    assert!(!blocker.await.unwrap());
    assert_eq!(
        app.login(&user.email, PASSWORD).await.status(),
        StatusCode::OK
    );
}
