//! A room actor: one task per room that has local subscribers, owning them. It receives the
//! room's events from the hub in `seq` order and hands each to every subscriber allowed to
//! see it, through the subscriber's bounded queue. It never waits for a subscriber: when a
//! queue is full the subscriber is dropped from the room and flagged as lagging; its client
//! rejoins once it has drained its queue and catches up from the outbox (no event lost, no
//! memory growth, nobody else slowed). A client that lags too often, or whose socket does not
//! take a frame within the write timeout, is disconnected as too slow.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use bytestring::ByteString;
use crm_events::{Audience, Room};
use tokio::sync::{Notify, mpsc};

use crate::access::SharedPrincipal;
use crate::protocol::{self, CloseWhy};

/// A committed event as the hub hands it out.
#[derive(Debug)]
pub(crate) struct HubEvent {
    pub seq: i64,
    pub name: String,
    pub rooms: Vec<String>,
    pub payload: String,
    pub audience: Audience,
}

impl From<crm_events::Event> for HubEvent {
    fn from(e: crm_events::Event) -> Self {
        Self {
            seq: e.seq,
            name: e.name,
            rooms: e.rooms,
            payload: e.payload,
            audience: e.audience,
        }
    }
}

/// What a connection shares with the rooms it is in.
#[derive(Debug)]
pub(crate) struct ConnShared {
    kill: Notify,
    why: OnceLock<CloseWhy>,
    lagging: Mutex<Vec<Room>>,
    lag: Notify,
    pub principal: SharedPrincipal,
}

impl ConnShared {
    pub fn new(principal: SharedPrincipal) -> Self {
        Self {
            kill: Notify::new(),
            why: OnceLock::new(),
            lagging: Mutex::new(Vec::new()),
            lag: Notify::new(),
            principal,
        }
    }

    /// Asks the connection to close (the first reason wins).
    pub fn kill(&self, why: CloseWhy) {
        if self.why.set(why).is_ok() {
            self.kill.notify_one();
        }
    }

    /// Records that `room` stopped delivering to this connection (its queue was full).
    pub fn lag(&self, room: Room) {
        let mut lagging = self.lagging.lock().unwrap_or_else(|e| e.into_inner());
        if !lagging.contains(&room) {
            lagging.push(room);
        }
        drop(lagging);
        self.lag.notify_one();
    }

    /// The rooms that stopped delivering since the last call.
    pub fn take_lagging(&self) -> Vec<Room> {
        std::mem::take(&mut *self.lagging.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Resolves when a room reported a lag (cancel-safe; may wake spuriously).
    pub async fn wait_lag(&self) {
        self.lag.notified().await;
    }

    /// Why the connection must close, once it must.
    pub fn killed(&self) -> Option<CloseWhy> {
        self.why.get().copied()
    }

    /// Resolves once [`kill`](Self::kill) was called (cancel-safe).
    pub async fn wait_killed(&self) -> CloseWhy {
        loop {
            if let Some(why) = self.killed() {
                return why;
            }
            self.kill.notified().await;
        }
    }
}

/// A connection as rooms see it.
#[derive(Debug, Clone)]
pub(crate) struct ConnHandle {
    pub id: u64,
    pub tx: mpsc::Sender<Outbound>,
    pub shared: Arc<ConnShared>,
}

/// What rooms put into a connection's queue.
#[derive(Debug)]
pub(crate) enum Outbound {
    /// The subscription `sub` is in the room; every later event of it has `seq > upto`.
    Joined { room: Room, sub: u64, upto: i64 },
    /// An event message for subscription `sub`.
    Event {
        room: Room,
        sub: u64,
        seq: i64,
        text: ByteString,
    },
}

/// What the hub sends a room.
#[derive(Debug)]
pub(crate) enum RoomMsg {
    /// A subscription: deliver events with `seq > after`; `upto` is the hub's position.
    Join {
        sub: u64,
        after: i64,
        upto: i64,
        conn: ConnHandle,
    },
    /// A connection left.
    Leave { conn: u64 },
    /// An event of this room.
    Event(Arc<HubEvent>),
}

struct Subscriber {
    sub: u64,
    after: i64,
    conn: ConnHandle,
}

/// Runs a room until the hub drops its sender (no local subscriber left).
pub(crate) async fn run(room: Room, mut rx: mpsc::Receiver<RoomMsg>) {
    let name = room.to_string();
    let mut subs: HashMap<u64, Subscriber> = HashMap::new();
    while let Some(msg) = rx.recv().await {
        match msg {
            RoomMsg::Join {
                sub,
                after,
                upto,
                conn,
            } => {
                match conn.tx.try_send(Outbound::Joined { room, sub, upto }) {
                    Ok(()) => {}
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        conn.shared.lag(room);
                        continue;
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => continue,
                }
                subs.insert(conn.id, Subscriber { sub, after, conn });
            }
            RoomMsg::Leave { conn } => {
                subs.remove(&conn);
            }
            RoomMsg::Event(event) => {
                let mut text: Option<ByteString> = None;
                subs.retain(|_, s| {
                    if event.seq <= s.after || !s.conn.shared.principal.allows(&event.audience) {
                        return true;
                    }
                    let text = text
                        .get_or_insert_with(|| {
                            protocol::event(&event.name, &name, event.seq, &event.payload)
                        })
                        .clone();
                    match s.conn.tx.try_send(Outbound::Event {
                        room,
                        sub: s.sub,
                        seq: event.seq,
                        text,
                    }) {
                        Ok(()) => true,
                        Err(mpsc::error::TrySendError::Full(_)) => {
                            tracing::debug!(room = %name, conn = s.conn.id, "WebSocket client lagging");
                            s.conn.shared.lag(room);
                            false
                        }
                        Err(mpsc::error::TrySendError::Closed(_)) => false,
                    }
                });
            }
        }
    }
}
