//! The hub of one server instance: it LISTENs on `crm_events`, reads committed outbox rows in
//! `seq` order on every notification and on a periodic catch-up tick, and hands each event to
//! the local room actors of its rooms. It also owns room membership (which connections are in
//! which room). Background jobs (reminders, retention) are the binary's scheduler's.
//!
//! Exactly once, in order, with no gap across a resume: the hub is one task, so joins and
//! events are serialised. A join is forwarded to its room together with the hub's position
//! `upto` (the last `seq` read): every event up to `upto` was dispatched before the join, every
//! later one after it. The client replays `(since, upto]` from the outbox and receives
//! `> upto` live. Since a `seq` becomes visible only after every smaller one (see
//! `crm-events`), reading `seq > upto` never skips anything, on every instance alike. Before
//! handling joins the hub numbers and reads everything committed so far, so a join starts
//! after every change committed before it arrived.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use crm_auth::AuthConfig;
use crm_db::pool::get_conn;
use crm_db::{AsyncPgConnection, DbPool};
use crm_events::{Event, Room};
use diesel_async::{AsyncConnection, RunQueryDsl};
use futures_util::StreamExt;
use tokio::sync::{Notify, mpsc, watch};

use crate::access::RoomGate;
use crate::room::{self, ConnHandle, HubEvent, RoomMsg};
use crate::settings::RealtimeSettings;

/// The PostgreSQL channel the stamper notifies when it has numbered events.
pub const CHANNEL: &str = "crm_events";

/// Events read from the outbox per query.
const PAGE: i64 = 500;

/// Commands the hub takes from its queue at once.
const CMD_BATCH: usize = 1024;

/// Queued messages per room actor (the hub waits when a room falls behind).
const ROOM_QUEUE: usize = 1024;

pub(crate) enum Cmd {
    Join {
        room: Room,
        sub: u64,
        since: Option<i64>,
        conn: ConnHandle,
    },
    Leave {
        room: Room,
        conn: u64,
    },
}

pub(crate) struct HubInner {
    pub cmds: mpsc::UnboundedSender<Cmd>,
    pub shutdown: watch::Sender<bool>,
    pub pool: DbPool,
    pub auth: Arc<AuthConfig>,
    /// Decides who may join a record's room.
    pub gate: Arc<dyn RoomGate>,
    pub settings: RealtimeSettings,
    next_conn: AtomicU64,
    /// Clients alive now: counted by [`Hub::connect`], uncounted when the client is dropped.
    pub connected: AtomicUsize,
}

/// A handle to the hub of this instance; cheap to clone.
#[derive(Clone)]
pub struct Hub {
    pub(crate) inner: Arc<HubInner>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hub")
            .field("settings", &self.inner.settings)
            .finish_non_exhaustive()
    }
}

impl Hub {
    /// Starts the hub: the outbox reader, the stamper and the LISTEN connection on
    /// `database_url` (each its own connection, reopened with back-off when lost). `gate`
    /// decides who may join a record's room. Call inside a Tokio runtime. Never fails: with the
    /// database down it keeps trying.
    pub fn start(
        pool: DbPool,
        database_url: String,
        auth: Arc<AuthConfig>,
        gate: Arc<dyn RoomGate>,
        settings: RealtimeSettings,
    ) -> Hub {
        let (cmds, cmd_rx) = mpsc::unbounded_channel();
        let (shutdown, _) = watch::channel(false);
        let wake = Arc::new(Notify::new());
        let inner = Arc::new(HubInner {
            cmds,
            shutdown,
            pool: pool.clone(),
            auth,
            gate,
            settings: settings.clone(),
            next_conn: AtomicU64::new(1),
            connected: AtomicUsize::new(0),
        });
        tokio::spawn(run(
            pool.clone(),
            cmd_rx,
            wake.clone(),
            inner.shutdown.subscribe(),
            settings.poll_interval,
        ));
        tokio::spawn(stamper(
            database_url.clone(),
            settings.stamp_interval,
            inner.shutdown.subscribe(),
        ));
        if settings.listen {
            tokio::spawn(listen(database_url, wake, inner.shutdown.subscribe()));
        }
        Hub { inner }
    }

    /// A fresh connection id; the connection counts among the connected clients until its
    /// client is dropped.
    pub(crate) fn register_connection(&self) -> u64 {
        self.inner.connected.fetch_add(1, Ordering::Relaxed);
        self.inner.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    /// How many WebSocket clients this instance serves now. A client stops counting the
    /// moment the server decides to close it, before the closing handshake.
    pub fn connections(&self) -> usize {
        AtomicUsize::load(&self.inner.connected, Ordering::Relaxed)
    }

    /// Tells every client to close (1001, "server shutting down") and stops the background
    /// tasks. Idempotent.
    pub fn shutdown(&self) {
        self.inner.shutdown.send_replace(true);
    }

    /// The settings in force.
    pub fn settings(&self) -> &RealtimeSettings {
        &self.inner.settings
    }

    pub(crate) fn send(&self, cmd: Cmd) {
        // Fails only once the hub task has stopped (shutdown): nothing to do then.
        let _ = self.inner.cmds.send(cmd);
    }
}

struct RoomEntry {
    tx: mpsc::Sender<RoomMsg>,
    members: HashSet<u64>,
}

struct State {
    pool: DbPool,
    rooms: HashMap<String, RoomEntry>,
    /// The last `seq` read and dispatched; `None` until the outbox could be read once.
    cursor: Option<i64>,
    /// Joins that arrived before the cursor was known.
    waiting: Vec<Cmd>,
}

async fn run(
    pool: DbPool,
    mut cmds: mpsc::UnboundedReceiver<Cmd>,
    wake: Arc<Notify>,
    mut shutdown: watch::Receiver<bool>,
    poll_interval: Duration,
) {
    let mut state = State {
        pool,
        rooms: HashMap::new(),
        cursor: None,
        waiting: Vec::new(),
    };
    let mut tick = tokio::time::interval(poll_interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            cmd = cmds.recv() => match cmd {
                Some(cmd) => {
                    // Joins that arrived together share one catch-up.
                    let mut batch = vec![cmd];
                    while batch.len() < CMD_BATCH {
                        match cmds.try_recv() {
                            Ok(cmd) => batch.push(cmd),
                            Err(_) => break,
                        }
                    }
                    if batch.iter().any(|c| matches!(c, Cmd::Join { .. })) {
                        state.settle().await;
                    }
                    for cmd in batch {
                        state.handle(cmd).await;
                    }
                }
                None => break,
            },
            _ = wake.notified() => state.catch_up().await,
            _ = tick.tick() => state.catch_up().await,
        }
    }
    tracing::debug!("realtime hub stopped");
}

impl State {
    async fn handle(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Join {
                room,
                sub,
                since,
                conn,
            } => {
                let Some(upto) = self.cursor else {
                    self.waiting.push(Cmd::Join {
                        room,
                        sub,
                        since,
                        conn,
                    });
                    return;
                };
                let entry = self.rooms.entry(room.to_string()).or_insert_with(|| {
                    let (tx, rx) = mpsc::channel(ROOM_QUEUE);
                    tokio::spawn(room::run(room, rx));
                    RoomEntry {
                        tx,
                        members: HashSet::new(),
                    }
                });
                entry.members.insert(conn.id);
                let after = since.map_or(upto, |s| s.max(upto));
                let _ = entry
                    .tx
                    .send(RoomMsg::Join {
                        sub,
                        after,
                        upto,
                        conn,
                    })
                    .await;
            }
            Cmd::Leave { room, conn } => {
                self.waiting.retain(
                    |c| !matches!(c, Cmd::Join { room: r, conn: h, .. } if *r == room && h.id == conn),
                );
                let key = room.to_string();
                let Some(entry) = self.rooms.get_mut(&key) else {
                    return;
                };
                if entry.members.remove(&conn) {
                    let _ = entry.tx.send(RoomMsg::Leave { conn }).await;
                }
                if entry.members.is_empty() {
                    // Dropping the sender ends the room actor.
                    self.rooms.remove(&key);
                }
            }
        }
    }

    /// Numbers and dispatches everything committed so far, so that a join handled next starts
    /// after every change committed before it arrived: a subscriber that loaded a record and
    /// then joined its room gets only newer changes. Best effort: if the database cannot be
    /// reached the join starts at the current position (still with no gap after it).
    async fn settle(&mut self) {
        if self.cursor.is_none() {
            return;
        }
        match get_conn(&self.pool).await {
            Ok(mut conn) => {
                if let Err(e) = crm_events::stamp_waiting(&mut conn, STAMP_BATCH).await {
                    tracing::warn!(error = %e, "realtime: numbering events before a join failed");
                }
            }
            Err(e) => tracing::warn!(error = %e, "realtime: outbox not reachable before a join"),
        }
        self.catch_up().await;
    }

    async fn catch_up(&mut self) {
        let mut conn = match get_conn(&self.pool).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "realtime: outbox not readable; will retry");
                return;
            }
        };
        let Some(mut after) = self.cursor else {
            match crm_events::head(&mut conn).await {
                Ok(head) => {
                    self.cursor = Some(head);
                    drop(conn);
                    for cmd in std::mem::take(&mut self.waiting) {
                        self.handle(cmd).await;
                    }
                }
                Err(e) => tracing::warn!(error = %e, "realtime: outbox head unreadable"),
            }
            return;
        };
        loop {
            let page = match Event::after(&mut conn, after, PAGE).await {
                Ok(page) => page,
                Err(e) => {
                    tracing::warn!(error = %e, "realtime: outbox read failed; will retry");
                    return;
                }
            };
            let full = page.len() as i64 == PAGE;
            for event in page {
                after = event.seq;
                self.dispatch(Arc::new(HubEvent::from(event))).await;
            }
            self.cursor = Some(after);
            if !full {
                return;
            }
        }
    }

    async fn dispatch(&self, event: Arc<HubEvent>) {
        for name in &event.rooms {
            if let Some(entry) = self.rooms.get(name) {
                let _ = entry.tx.send(RoomMsg::Event(event.clone())).await;
            }
        }
    }
}

/// First wait before reopening a lost stamper or LISTEN connection.
const RECONNECT_FIRST: Duration = Duration::from_millis(100);
/// Longest wait between reopening attempts: live events resume within about this long of the
/// database coming back (a failed attempt against a database that is down costs little).
const RECONNECT_MAX: Duration = Duration::from_secs(1);

/// Longest wait for a new stamper or LISTEN connection: an unreachable host (no refusal, just
/// silence) must not stall the reconnect loop for the TCP timeout.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

async fn connect(url: &str) -> diesel::ConnectionResult<AsyncPgConnection> {
    tokio::time::timeout(CONNECT_TIMEOUT, AsyncPgConnection::establish(url))
        .await
        .unwrap_or_else(|_| {
            Err(diesel::ConnectionError::BadConnection(
                "timed out connecting".into(),
            ))
        })
}

/// Largest batch one stamping transaction numbers.
const STAMP_BATCH: i64 = 10_000;

/// Numbers committed events (see `crm_events::stamp`) every `interval`. Every instance runs
/// one; the stamper lock lets one at a time work, the others skip that round. It has a
/// connection of its own (reopened with back-off when lost), so its frequent checks never
/// wait for, or hold, a connection of the request pool.
async fn stamper(url: String, interval: Duration, mut shutdown: watch::Receiver<bool>) {
    let mut backoff = RECONNECT_FIRST;
    let mut tick = tokio::time::interval(interval.max(Duration::from_millis(1)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        match connect(&url).await {
            Ok(mut conn) => {
                backoff = RECONNECT_FIRST;
                loop {
                    tokio::select! {
                        _ = shutdown.changed() => return,
                        _ = tick.tick() => {}
                    }
                    if let Err(e) = stamp_all(&mut conn).await {
                        tracing::warn!(error = %e, "realtime: numbering events failed; reconnecting");
                        break;
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "realtime: cannot open the stamper connection"),
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.changed() => return,
        }
        backoff = (backoff * 2).min(RECONNECT_MAX);
    }
}

/// Numbers everything waiting, a batch per transaction, unless another stamper is at work.
async fn stamp_all(conn: &mut AsyncPgConnection) -> diesel::QueryResult<()> {
    while crm_events::unstamped(conn).await? {
        let n = crm_events::stamp(conn, STAMP_BATCH).await?;
        if n < usize::try_from(STAMP_BATCH).unwrap_or(usize::MAX) {
            break;
        }
    }
    Ok(())
}

/// Keeps a LISTEN connection open and wakes the reader on every notification (and after
/// every reconnection, to catch up on what was committed meanwhile).
async fn listen(url: String, wake: Arc<Notify>, mut shutdown: watch::Receiver<bool>) {
    let mut backoff = RECONNECT_FIRST;
    loop {
        match connect(&url).await {
            Ok(mut conn) => {
                match diesel::sql_query(format!("LISTEN {CHANNEL}"))
                    .execute(&mut conn)
                    .await
                {
                    Ok(_) => {
                        backoff = RECONNECT_FIRST;
                        wake.notify_one();
                        let mut stream = std::pin::pin!(conn.notifications_stream());
                        loop {
                            tokio::select! {
                                n = stream.next() => match n {
                                    Some(Ok(_)) => wake.notify_one(),
                                    Some(Err(e)) => {
                                        tracing::warn!(error = %e, "realtime: LISTEN connection lost");
                                        break;
                                    }
                                    None => break,
                                },
                                _ = shutdown.changed() => return,
                            }
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "realtime: LISTEN failed"),
                }
            }
            Err(e) => tracing::warn!(error = %e, "realtime: cannot open the LISTEN connection"),
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff) => {}
            _ = shutdown.changed() => return,
        }
        backoff = (backoff * 2).min(RECONNECT_MAX);
    }
}
