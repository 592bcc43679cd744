//! Live updates: the realtime hub of a server instance and the protocol state of its
//! WebSocket clients (ARCHITECTURE §3, §4).
//!
//! - [`Hub`]: LISTENs on `crm_events`, reads the outbox (`crm-events`) in `seq` order on
//!   every notification and on a periodic catch-up read, and hands each event to the room
//!   actors (one task per room) have local subscribers. Every instance does the same, so each
//!   subscriber gets every event of its rooms once, in `seq` order, whichever instance it is
//!   connected to. It also fires task reminders and prunes the outbox.
//! - [`Client`]: one connection's subscriptions (access checked by the record's own read
//!   service), resume from `since` without gap or duplicate, a bounded send queue, heartbeats,
//!   idle timeout, and credential re-checks. The socket itself is the HTTP layer's.
//!
//! Depends on the domain crates and `crm-auth`; no web framework (`scripts/check-layering.sh`).

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
