//! Who may join a room: exactly the record's own read rule, asked of a [`RoomGate`] the binary
//! hands in (it calls the record's own read service, so visibility is decided in one place and
//! this crate depends on no record crate), and who receives an event once in the room
//! ([`Principal::allows`]).

use std::sync::RwLock;

use crm_core::{Actor, EntityKind, EntityRef, ErrorKind, Permission, PermissionSet, UserId};
use crm_db::AsyncPgConnection;
use crm_events::{Audience, Room};
use futures_util::future::BoxFuture;

use crate::protocol::{ErrorCode, ErrorMessage};

/// What deliveries are decided on: the user and the permissions, as of the last check of the
/// credential (on connect, on every subscribe, and every re-check interval).
#[derive(Debug, Clone, Copy)]
pub struct Principal {
    /// `Actor::user_id` (for API keys the admin who created the key, as the services use it).
    pub user_id: Option<UserId>,
    /// Effective permissions.
    pub permissions: PermissionSet,
}

impl From<&Actor> for Principal {
    fn from(actor: &Actor) -> Self {
        Self {
            user_id: actor.user_id,
            permissions: actor.permissions,
        }
    }
}

/// A principal that can be updated while rooms read it.
#[derive(Debug)]
pub struct SharedPrincipal(RwLock<Principal>);

impl SharedPrincipal {
    /// Wraps a principal.
    pub fn new(p: Principal) -> Self {
        Self(RwLock::new(p))
    }

    /// The current principal.
    pub fn get(&self) -> Principal {
        *self.0.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Replaces it (after a fresh check of the credential).
    pub fn set(&self, p: Principal) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = p;
    }

    /// Whether an event with this audience may be delivered.
    pub fn allows(&self, audience: &Audience) -> bool {
        let p = self.get();
        audience.allows(p.user_id, p.permissions)
    }
}

/// Why a gate refused: the kind of error the record's read service answered (`NotFound`,
/// `Forbidden`, `Unavailable`, ...) and its text for the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The kind of error.
    pub kind: ErrorKind,
    /// What went wrong (logged when the check itself failed, never sent).
    pub cause: String,
}

/// Whether an actor may read a record, as its own read service decides (`get_deal`,
/// `get_contact`, ...). Implemented where the record crates are known (`crm-http`) and handed
/// to [`crate::Hub::start`].
pub trait RoomGate: Send + Sync + 'static {
    /// `Ok` when the record exists and `actor` may read it.
    fn may_read<'a>(
        &'a self,
        conn: &'a mut AsyncPgConnection,
        actor: &'a Actor,
        record: EntityRef,
    ) -> BoxFuture<'a, Result<(), Refusal>>;
}

fn refused(e: &Refusal, room: &str) -> ErrorMessage {
    let (code, message) = match e.kind {
        ErrorKind::NotFound => (ErrorCode::NotFound, "no such record, or not visible to you"),
        ErrorKind::Forbidden => (ErrorCode::Forbidden, "you may not read this record"),
        ErrorKind::Unavailable => (ErrorCode::Unavailable, "database unavailable: try again"),
        _ => (
            ErrorCode::Unavailable,
            "the room could not be checked: try again",
        ),
    };
    if code == ErrorCode::Unavailable {
        tracing::warn!(error = %e.cause, room, "room check failed");
    }
    ErrorMessage::new(code, message, Some(room))
}

/// `Ok` when `actor` may join `room`: the record exists and the actor may read it (the gate
/// decides), a board needs `pipelines.read` and `deals.read`, and `user:{id}` is only for that
/// user.
pub async fn authorize(
    conn: &mut AsyncPgConnection,
    gate: &dyn RoomGate,
    actor: &Actor,
    room: Room,
) -> Result<(), ErrorMessage> {
    let name = room.to_string();
    let record = match room {
        Room::Deal(id) => EntityRef::new(EntityKind::Deal, id),
        Room::Contact(id) => EntityRef::new(EntityKind::Contact, id),
        Room::Task(id) => EntityRef::new(EntityKind::Task, id),
        Room::Pipeline(id) => {
            let board = EntityRef::new(EntityKind::Pipeline, id);
            gate.may_read(conn, actor, board)
                .await
                .map_err(|e| refused(&e, &name))?;
            return if actor.can(Permission::DealsRead) {
                Ok(())
            } else {
                Err(ErrorMessage::new(
                    ErrorCode::Forbidden,
                    "a board shows deals: deals.read is needed",
                    Some(&name),
                ))
            };
        }
        Room::User(id) => {
            return if actor.is_user(id) {
                Ok(())
            } else {
                Err(ErrorMessage::new(
                    ErrorCode::Forbidden,
                    "a personal room is only for its user",
                    Some(&name),
                ))
            };
        }
    };
    gate.may_read(conn, actor, record)
        .await
        .map_err(|e| refused(&e, &name))
}
