//! The protocol state of one WebSocket connection, without the socket: the HTTP layer feeds it
//! the client's text frames ([`Client::on_text`]) and writes what [`Client::next`] yields.
//!
//! Per room a subscription goes `joining` → (`replaying` →) `live`. When the room confirms the
//! join with the hub position `upto`, the client answers `subscribed`; with `since < upto` a
//! replay task reads `(since, upto]` of the room from the outbox while live events of the room
//! (all `> upto`) wait in a bounded buffer, and are written after the replay (if more arrive
//! than the buffer holds, they are dropped and the room is joined again from the last replayed
//! event, counted as a lag). No gap, no duplicate, in `seq` order.
//!
//! A room that finds this connection's queue full stops delivering to it (see `room`); once
//! the queue is drained the client rejoins the room with `since` = the last `seq` it queued
//! for it, which replays what was skipped. More than [`MAX_LAGS`] such lags within
//! [`LAG_WINDOW`] disconnect the client as too slow (4008).

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytestring::ByteString;
use chrono::Utc;
use crm_auth::AuthError;
use crm_core::{Actor, DomainError, ErrorKind};
use crm_db::DbPool;
use crm_db::pool::get_conn;
use crm_events::{Event, Room};
use futures_util::future::BoxFuture;
use tokio::sync::{mpsc, watch};
use tokio::task::AbortHandle;
use tokio::time::Instant;

use crate::access::{Principal, SharedPrincipal, authorize};
use crate::hub::{Cmd, Hub};
use crate::protocol::{self, ClientMessage, CloseWhy, ErrorCode, ErrorMessage};
use crate::room::{ConnHandle, ConnShared, Outbound};

// Connecting lives beside the client it creates, so the hub knows nothing of clients.
impl Hub {
    /// A new WebSocket client for an authenticated `actor` and the credential it presented
    /// (checked again on every subscribe and periodically; an access token also ends the
    /// connection at its expiry).
    pub fn connect(&self, actor: Actor, token: String) -> Client {
        let id = self.register_connection();
        let (tx, rx) = mpsc::channel(self.settings().send_queue.max(1));
        let shared = Arc::new(ConnShared::new(SharedPrincipal::new(Principal::from(
            &actor,
        ))));
        let conn = ConnHandle { id, tx, shared };
        Client::new(self.clone(), conn, rx, actor, token)
    }
}

/// Messages a client may send per second, on average.
pub const MESSAGES_PER_SECOND: f64 = 50.0;

/// Messages a client may send at once: enough to join every room it may be in, twice.
fn message_burst(settings: &crate::settings::RealtimeSettings) -> f64 {
    f64::from(u32::try_from(settings.max_rooms.saturating_mul(2)).unwrap_or(u32::MAX)).max(20.0)
}

/// Events read per replay query.
const REPLAY_PAGE: i64 = 500;

/// Lags tolerated within [`LAG_WINDOW`] before a client counts as too slow.
pub const MAX_LAGS: usize = 20;

/// The window of [`MAX_LAGS`].
pub const LAG_WINDOW: Duration = Duration::from_secs(60);

/// What to write next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    /// A text frame.
    Text(ByteString),
    /// A ping frame (heartbeat).
    Ping,
    /// Close the connection with this reason.
    Close(CloseWhy),
}

enum State {
    /// Waiting for the room to confirm.
    Joining,
    /// Replaying; live events (`seq`, message) wait here.
    Replaying(VecDeque<(i64, ByteString)>),
    /// Replaying, but more live events came than may wait: they are dropped, and once the
    /// replay is done the room is joined again from the last replayed event (a lag).
    ReplayingOverflowed,
    /// Live.
    Live,
}

struct Subscription {
    id: u64,
    since: Option<i64>,
    state: State,
    /// The last `seq` of this room queued for writing.
    last_seq: i64,
    /// `subscribed` answers owed once the room confirms: one per subscribe message, none for a
    /// rejoin after a lag.
    owed: usize,
    /// The replay of this subscription, stopped when it is superseded or left.
    replay: Option<AbortHandle>,
}

struct Replayed {
    room: Room,
    sub: u64,
    item: ReplayItem,
}

enum ReplayItem {
    Event(i64, ByteString),
    /// Everything up to this `seq` was replayed.
    Done(i64),
    Failed(ErrorMessage),
}

/// One connection's subscriptions, queues, heartbeat and credential checks.
pub struct Client {
    hub: Hub,
    conn: ConnHandle,
    live: mpsc::Receiver<Outbound>,
    replay_tx: mpsc::Sender<Replayed>,
    replay_rx: mpsc::Receiver<Replayed>,
    rooms: HashMap<Room, Subscription>,
    next_sub: u64,
    actor: Actor,
    token: String,
    expires_at: Option<Instant>,
    last_seen: Instant,
    next_ping: Instant,
    next_recheck: Instant,
    recheck: Option<BoxFuture<'static, Result<Actor, AuthError>>>,
    out: VecDeque<ByteString>,
    lags: VecDeque<Instant>,
    shutdown: watch::Receiver<bool>,
    /// Messages the client may still send now (a token bucket): each subscribe costs database
    /// reads, so a client cannot make the server do them at any rate it likes.
    allowance: f64,
    allowance_at: Instant,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("conn", &self.conn.id)
            .field("rooms", &self.rooms.len())
            .finish_non_exhaustive()
    }
}

fn access_token_expiry(hub: &Hub, token: &str) -> Option<Instant> {
    let claims = crm_auth::jwt::verify_access_token(&hub.inner.auth, token).ok()?;
    let left = claims.exp - Utc::now().timestamp();
    Some(Instant::now() + Duration::from_secs(u64::try_from(left).unwrap_or(0)))
}

impl Client {
    pub(crate) fn new(
        hub: Hub,
        conn: ConnHandle,
        live: mpsc::Receiver<Outbound>,
        actor: Actor,
        token: String,
    ) -> Self {
        let now = Instant::now();
        let settings = hub.settings().clone();
        let (replay_tx, replay_rx) = mpsc::channel(64);
        Self {
            expires_at: access_token_expiry(&hub, &token),
            shutdown: hub.inner.shutdown.subscribe(),
            hub,
            conn,
            live,
            replay_tx,
            replay_rx,
            rooms: HashMap::new(),
            next_sub: 1,
            actor,
            token,
            last_seen: now,
            next_ping: now + settings.heartbeat,
            next_recheck: now + settings.reauth_interval,
            recheck: None,
            out: VecDeque::new(),
            lags: VecDeque::new(),
            allowance: message_burst(&settings),
            allowance_at: now,
        }
    }

    /// Records that the client sent a frame (any frame keeps the connection alive).
    pub fn touch(&mut self) {
        self.last_seen = Instant::now();
    }

    /// The answer to a binary frame: the protocol is JSON text.
    pub fn on_binary(&mut self) -> ByteString {
        ErrorMessage::new(ErrorCode::BadRequest, "send JSON text frames", None).to_text()
    }

    /// Handles a text frame; returns the messages to write at once, or why to close (a
    /// credential that no longer holds).
    pub async fn on_text(&mut self, text: &str) -> Result<Vec<ByteString>, CloseWhy> {
        if !self.allow_message() {
            return Ok(vec![
                ErrorMessage::new(
                    ErrorCode::RateLimited,
                    format!("too many messages: at most {MESSAGES_PER_SECOND} per second"),
                    None,
                )
                .to_text(),
            ]);
        }
        match protocol::parse(text) {
            Err(bad) => Ok(vec![
                ErrorMessage::new(ErrorCode::BadRequest, bad.to_string(), None).to_text(),
            ]),
            Ok(ClientMessage::Unsubscribe { room }) => {
                if let Ok(r) = room.parse::<Room>() {
                    self.leave(r);
                }
                Ok(vec![protocol::unsubscribed(&room)])
            }
            Ok(ClientMessage::Subscribe { room, since }) => self.subscribe(&room, since).await,
        }
    }

    fn allow_message(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.allowance_at).as_secs_f64() * MESSAGES_PER_SECOND;
        self.allowance = (self.allowance + refill).min(message_burst(self.hub.settings()));
        self.allowance_at = now;
        if self.allowance < 1.0 {
            return false;
        }
        self.allowance -= 1.0;
        true
    }

    async fn subscribe(
        &mut self,
        name: &str,
        since: Option<i64>,
    ) -> Result<Vec<ByteString>, CloseWhy> {
        let error = |code, message: String| {
            Ok(vec![ErrorMessage::new(code, message, Some(name)).to_text()])
        };
        let room: Room = match name.parse() {
            Ok(room) => room,
            Err(e) => return error(ErrorCode::BadRequest, e.to_string()),
        };
        if since.is_some_and(|s| s < 0) {
            return error(ErrorCode::BadRequest, "since must be 0 or more".into());
        }
        let max = self.hub.settings().max_rooms;
        if !self.rooms.contains_key(&room) && self.rooms.len() >= max {
            return error(
                ErrorCode::TooManyRooms,
                format!("at most {max} rooms per connection: unsubscribe from one first"),
            );
        }
        let mut conn = match get_conn(&self.hub.inner.pool).await {
            Ok(c) => c,
            Err(_) => {
                return error(
                    ErrorCode::Unavailable,
                    "database unavailable: try again".into(),
                );
            }
        };
        // The credential and the permissions are checked afresh on every subscribe.
        match crm_auth::authenticate(&mut conn, &self.hub.inner.auth, &self.token).await {
            Ok(actor) => {
                self.conn.shared.principal.set(Principal::from(&actor));
                self.actor = actor;
            }
            Err(e) if e.kind() == ErrorKind::Unauthorized => return Err(CloseWhy::Unauthorized),
            Err(_) => {
                return error(
                    ErrorCode::Unavailable,
                    "database unavailable: try again".into(),
                );
            }
        }
        if let Err(refused) = authorize(&mut conn, &*self.hub.inner.gate, &self.actor, room).await {
            self.leave(room);
            return Ok(vec![refused.to_text()]);
        }
        if let Some(since) = since {
            let (horizon, head) = match (
                crm_events::horizon(&mut conn).await,
                crm_events::head(&mut conn).await,
            ) {
                (Ok(h), Ok(d)) => (h, d),
                _ => {
                    return error(
                        ErrorCode::Unavailable,
                        "database unavailable: try again".into(),
                    );
                }
            };
            if since < horizon {
                return error(
                    ErrorCode::ResyncRequired,
                    format!(
                        "events after {since} are no longer kept (retention): reload the record \
                         and subscribe without since"
                    ),
                );
            }
            if since > head {
                return error(
                    ErrorCode::ResyncRequired,
                    format!(
                        "since {since} is newer than the newest event ({head}): reload the record and subscribe without since"
                    ),
                );
            }
        }
        drop(conn);
        // Subscribing again is idempotent: without `since` the subscription stays as it is
        // and is confirmed again (once the room confirms it, if it has not yet); with `since`
        // it starts over from there. Every subscribe message gets its `subscribed`.
        let mut owed = 1;
        if let Some(s) = self.rooms.get_mut(&room) {
            let joining = matches!(s.state, State::Joining);
            if since.is_none() {
                if joining {
                    s.owed += 1;
                    return Ok(Vec::new());
                }
                return Ok(vec![protocol::subscribed(room)]);
            }
            if joining {
                owed += s.owed;
            }
        }
        self.leave(room);
        let sub = self.next_sub;
        self.next_sub += 1;
        self.rooms.insert(
            room,
            Subscription {
                id: sub,
                since,
                state: State::Joining,
                last_seq: since.unwrap_or(0),
                owed,
                replay: None,
            },
        );
        self.hub.send(Cmd::Join {
            room,
            sub,
            since,
            conn: self.conn.clone(),
        });
        Ok(Vec::new())
    }

    fn leave(&mut self, room: Room) {
        if let Some(s) = self.rooms.remove(&room) {
            if let Some(replay) = s.replay {
                replay.abort();
            }
            self.hub.send(Cmd::Leave {
                room,
                conn: self.conn.id,
            });
        }
    }

    /// How long one frame may take to be accepted by the socket.
    pub fn write_timeout(&self) -> Duration {
        self.hub.settings().write_timeout
    }

    /// The rooms this connection is in (subscribed or joining).
    pub fn rooms(&self) -> Vec<Room> {
        self.rooms.keys().copied().collect()
    }

    /// Resolves when the connection must close although nothing is read from it (too slow,
    /// or the server shuts down): for interrupting a write that blocks.
    pub async fn killed(&self) -> CloseWhy {
        let mut shutdown = self.shutdown.clone();
        tokio::select! {
            why = self.conn.shared.wait_killed() => why,
            _ = shutdown.wait_for(|down| *down) => CloseWhy::ServerShutdown,
        }
    }

    /// Waits for the next thing to write: a message, a heartbeat ping, or a reason to close
    /// (server shutdown, slow consumer, idle timeout, expired or revoked credential).
    /// Cancel-safe: dropping the future loses nothing.
    pub async fn next(&mut self) -> Next {
        loop {
            if let Some(why) = self.conn.shared.killed() {
                return Next::Close(why);
            }
            if *self.shutdown.borrow() {
                return Next::Close(CloseWhy::ServerShutdown);
            }
            if let Some(text) = self.out.pop_front() {
                return Next::Text(text);
            }
            if self.live.is_empty() {
                self.rejoin_lagging();
                if let Some(why) = self.conn.shared.killed() {
                    return Next::Close(why);
                }
            }
            let expires_at = self.expires_at;
            let recheck_due = self.recheck.is_none();
            let shared = self.conn.shared.clone();
            tokio::select! {
                _ = shared.wait_killed() => {}
                _ = shared.wait_lag() => {}
                changed = self.shutdown.changed() => {
                    if changed.is_err() {
                        return Next::Close(CloseWhy::ServerShutdown);
                    }
                }
                Some(out) = self.live.recv() => self.on_outbound(out),
                Some(replayed) = self.replay_rx.recv() => self.on_replayed(replayed),
                _ = tokio::time::sleep_until(self.next_ping) => {
                    let settings = self.hub.settings();
                    if self.last_seen.elapsed() >= settings.idle_timeout {
                        return Next::Close(CloseWhy::Idle);
                    }
                    self.next_ping = Instant::now() + settings.heartbeat;
                    return Next::Ping;
                }
                _ = async { tokio::time::sleep_until(expires_at.unwrap_or_else(Instant::now)).await },
                    if expires_at.is_some() => return Next::Close(CloseWhy::Unauthorized),
                _ = tokio::time::sleep_until(self.next_recheck), if recheck_due => {
                    self.next_recheck = Instant::now() + self.hub.settings().reauth_interval;
                    let (pool, auth, token) = (
                        self.hub.inner.pool.clone(),
                        self.hub.inner.auth.clone(),
                        self.token.clone(),
                    );
                    self.recheck = Some(Box::pin(async move {
                        let mut conn = get_conn(&pool).await?;
                        crm_auth::authenticate(&mut conn, &auth, &token).await
                    }));
                }
                result = async {
                    match self.recheck.as_mut() {
                        Some(check) => check.await,
                        None => std::future::pending().await,
                    }
                }, if !recheck_due => {
                    self.recheck = None;
                    match result {
                        Ok(actor) => {
                            self.conn.shared.principal.set(Principal::from(&actor));
                            self.actor = actor;
                        }
                        Err(e) if e.kind() == ErrorKind::Unauthorized => {
                            return Next::Close(CloseWhy::Unauthorized);
                        }
                        Err(e) => tracing::warn!(error = %e, "credential re-check failed; will retry"),
                    }
                }
            }
        }
    }

    /// Rejoins the rooms that stopped delivering, from the last `seq` queued for each.
    fn rejoin_lagging(&mut self) {
        let lagging = self.conn.shared.take_lagging();
        if lagging.is_empty() {
            return;
        }
        for room in lagging {
            if !self.rejoin(room) {
                return;
            }
        }
    }

    /// Joins `room` again from the last `seq` queued for it, counting a lag; false when that
    /// was one lag too many and the connection is being closed.
    fn rejoin(&mut self, room: Room) -> bool {
        let Some(s) = self.rooms.get_mut(&room) else {
            return true;
        };
        let now = Instant::now();
        while self
            .lags
            .front()
            .is_some_and(|t| now.duration_since(*t) > LAG_WINDOW)
        {
            self.lags.pop_front();
        }
        self.lags.push_back(now);
        if self.lags.len() > MAX_LAGS {
            self.conn.shared.kill(CloseWhy::SlowConsumer);
            return false;
        }
        let sub = self.next_sub;
        self.next_sub += 1;
        s.id = sub;
        // A join the room could not even confirm is simply repeated as it was.
        if !matches!(s.state, State::Joining) {
            s.since = Some(s.last_seq);
            s.owed = 0;
        }
        if let Some(replay) = s.replay.take() {
            replay.abort();
        }
        s.state = State::Joining;
        self.hub.send(Cmd::Join {
            room,
            sub,
            since: s.since,
            conn: self.conn.clone(),
        });
        true
    }

    fn on_outbound(&mut self, out: Outbound) {
        match out {
            Outbound::Joined { room, sub, upto } => {
                let Some(s) = self.rooms.get_mut(&room).filter(|s| s.id == sub) else {
                    return;
                };
                for _ in 0..std::mem::take(&mut s.owed) {
                    self.out.push_back(protocol::subscribed(room));
                }
                match s.since.filter(|since| *since < upto) {
                    Some(since) => {
                        // The replay moves it on; a rejoin while replaying resumes from there.
                        s.last_seq = since;
                        s.state = State::Replaying(VecDeque::new());
                        let task = tokio::spawn(replay(
                            self.hub.inner.pool.clone(),
                            self.conn.clone(),
                            room,
                            sub,
                            since,
                            upto,
                            self.replay_tx.clone(),
                        ));
                        s.replay = Some(task.abort_handle());
                    }
                    None => {
                        s.last_seq = s.last_seq.max(upto);
                        s.state = State::Live;
                    }
                }
            }
            Outbound::Event {
                room,
                sub,
                seq,
                text,
            } => {
                let limit = self.hub.settings().send_queue;
                let Some(s) = self.rooms.get_mut(&room).filter(|s| s.id == sub) else {
                    return;
                };
                match &mut s.state {
                    State::Replaying(waiting) => {
                        if waiting.len() >= limit {
                            s.state = State::ReplayingOverflowed;
                        } else {
                            waiting.push_back((seq, text));
                        }
                    }
                    State::ReplayingOverflowed => {}
                    State::Live | State::Joining => {
                        s.last_seq = seq;
                        self.out.push_back(text);
                    }
                }
            }
        }
    }

    fn on_replayed(&mut self, replayed: Replayed) {
        let Some(s) = self
            .rooms
            .get_mut(&replayed.room)
            .filter(|s| s.id == replayed.sub)
        else {
            return;
        };
        match replayed.item {
            ReplayItem::Event(seq, text) => {
                s.last_seq = seq;
                self.out.push_back(text);
            }
            ReplayItem::Done(upto) => match std::mem::replace(&mut s.state, State::Live) {
                State::Replaying(waiting) => {
                    s.last_seq = s.last_seq.max(upto);
                    // Live events waiting here all come after the replayed ones: the room
                    // sends only `seq > upto`.
                    for (seq, text) in waiting {
                        s.last_seq = seq;
                        self.out.push_back(text);
                    }
                }
                State::ReplayingOverflowed => {
                    s.last_seq = s.last_seq.max(upto);
                    self.rejoin(replayed.room);
                }
                State::Joining | State::Live => {}
            },
            ReplayItem::Failed(error) => {
                self.out.push_back(error.to_text());
                self.leave(replayed.room);
            }
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.hub.inner.connected.fetch_sub(1, Ordering::Relaxed);
        for replay in self.rooms.values().filter_map(|s| s.replay.as_ref()) {
            replay.abort();
        }
        for room in self.rooms.keys() {
            self.hub.send(Cmd::Leave {
                room: *room,
                conn: self.conn.id,
            });
        }
    }
}

/// Reads the room's events `(since, upto]` from the outbox for subscription `sub`, keeping
/// those the connection may see, then reports `Done` (or why it could not).
async fn replay(
    pool: DbPool,
    conn: ConnHandle,
    room: Room,
    sub: u64,
    since: i64,
    upto: i64,
    tx: mpsc::Sender<Replayed>,
) {
    let name = room.to_string();
    let send = |item| tx.send(Replayed { room, sub, item });
    let mut after = since;
    loop {
        let page = async {
            let mut db = get_conn(&pool).await.map_err(|e| e.to_string())?;
            if crm_events::horizon(&mut db)
                .await
                .map_err(|e| e.to_string())?
                > since
            {
                return Ok(None);
            }
            Event::in_room(&mut db, &name, after, upto, REPLAY_PAGE)
                .await
                .map(Some)
                .map_err(|e| e.to_string())
        }
        .await;
        let page = match page {
            Ok(Some(page)) => page,
            Ok(None) => {
                let message = format!(
                    "events after {since} are no longer kept (retention): reload the record and \
                     subscribe without since"
                );
                let error = ErrorMessage::new(ErrorCode::ResyncRequired, message, Some(&name));
                let _ = send(ReplayItem::Failed(error)).await;
                return;
            }
            Err(e) => {
                tracing::warn!(error = %e, room = %name, "replay failed");
                let error = ErrorMessage::new(
                    ErrorCode::Unavailable,
                    "the replay failed: subscribe again with the same since",
                    Some(&name),
                );
                let _ = send(ReplayItem::Failed(error)).await;
                return;
            }
        };
        let full = page.len() as i64 == REPLAY_PAGE;
        for event in page {
            after = event.seq;
            if !conn.shared.principal.allows(&event.audience) {
                continue;
            }
            let text = protocol::event(&event.name, &name, event.seq, &event.payload);
            if send(ReplayItem::Event(event.seq, text)).await.is_err() {
                return;
            }
        }
        if !full {
            break;
        }
    }
    let _ = send(ReplayItem::Done(upto)).await;
}
