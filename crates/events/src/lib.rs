//! The realtime outbox. Domain services call [`append`] inside the transaction of the change,
//! next to `crm_activity::record`, so an event exists exactly when the change was committed;
//! the realtime hub (`crm-realtime`) reads committed events back in `seq` order with
//! [`Event::after`] and replays a room's history with [`Event::in_room`].
//!
//! Ordering: `seq` is handed out at commit time under a transaction-scoped advisory lock (a
//! deferred trigger of the `events` table, see the migration `2026-12-01-000004_realtime_outbox`),
//! so `seq` order is commit order and a reader that reads `seq > last_seen` never skips an
//! event that commits later. See `docs/api-conventions.md` (Realtime) for the whole argument.
//!
//! Depends on `crm-core` and `crm-db` only; no web framework, no other domain crate.

pub mod audience;
pub mod name;
pub mod room;
pub mod store;

pub use audience::Audience;
pub use name::EventName;
pub use room::{Room, RoomError};
pub use store::{Event, NewEvent, append, head, horizon, prune};
