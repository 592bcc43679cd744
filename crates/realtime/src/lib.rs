//! Live updates: the realtime hub of a server instance and the protocol state of its
//! WebSocket clients (ARCHITECTURE §3, §4).
//!
//! - [`Hub`]: LISTENs on `crm_events`, reads the outbox (`crm-events`) in `seq` order on
//!   every notification and on a periodic catch-up read, and hands each event to the room
//!   actors (one task per room) have local subscribers. Every instance does the same, so each
//!   subscriber gets every event of its rooms once, in `seq` order, whichever instance it is
//!   connected to.
//! - [`Client`]: one connection's subscriptions (access checked through the
//!   [`access::RoomGate`] the binary hands in, which asks the record's own read service),
//!   resume from `since` without gap or duplicate, a bounded send queue, heartbeats, idle
//!   timeout, and credential re-checks. The socket itself is the HTTP layer's.
//!
//! Depends on `crm-core`, `crm-db`, `crm-events` and `crm-auth` (credential re-checks), on no
//! record crate; no web framework (`scripts/check-layering.sh`). Background jobs (reminders,
//! retention) are the server's scheduler's.

pub mod access;
pub mod client;
pub mod hub;
pub mod protocol;
mod room;
pub mod settings;

pub use client::{Client, Next};
pub use hub::Hub;
pub use protocol::{CloseWhy, ErrorCode};
pub use settings::RealtimeSettings;
