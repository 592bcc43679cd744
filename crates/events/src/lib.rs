//! The realtime outbox. Domain services call [`append`] inside the transaction of the change,
//! next to `crm_activity::record`, so an event exists exactly when the change was committed;
//! the realtime hub (`crm-realtime`) reads committed events back in `seq` order with
//! [`Event::after`] and replays a room's history with [`Event::in_room`].
//!
//! Ordering: writers insert events without a `seq`; after their transaction has committed, a
//! stamper ([`stamp`], run by every server instance, one at a time under an advisory lock)
//! numbers them. So a `seq` only becomes visible after every smaller one, and a reader that
//! reads `seq > last_seen` never skips an event, while writers share no lock and send no
//! NOTIFY (both would serialise their commits). See `docs/api-conventions.md` (Realtime).
//!
//! Writes that change many records set-based (tags, custom-field definitions) report what
//! they changed as [`Rewritten`] records; the record crates append the records' update events
//! for them (see [`rewrite`]).
//!
//! Depends on `crm-core` and `crm-db` only; no web framework, no other domain crate.

pub mod audience;
pub mod name;
pub mod record_room;
pub mod rewrite;
pub mod room;
pub mod store;

pub use audience::Audience;
pub use name::EventName;
pub use record_room::record_room;
pub use rewrite::{REWRITE_BATCH, RewriteEvents, RewriteFuture, Rewritten};
pub use room::{Room, RoomError};
pub use store::{Event, NewEvent, append, head, horizon, prune, stamp, stamp_waiting, unstamped};
