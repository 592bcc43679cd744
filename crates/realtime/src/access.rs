//! Who may join a room: exactly the record's own read rule, by calling the service that reads
//! it (so visibility without `<resource>.read_all` is decided in one place), and who receives
//! an event once in the room ([`Principal::allows`]).

use std::sync::RwLock;

use crm_core::{Actor, DomainError, ErrorKind, Permission, PermissionSet, UserId};
use crm_db::AsyncPgConnection;
use crm_events::{Audience, Room};
use uuid::Uuid;

use crate::protocol::{ErrorCode, ErrorMessage};

/// What deliveries are decided on: the user and the permissions, as of the last check of the
/// credential (on connect, on every subscribe, and every re-check interval).
#[derive(Debug, Clone, Copy)]
pub struct Principal {
    /// `Actor::user_id` (for API keys the admin who created the key, as the services use it).
    pub user_id: Option<Uuid>,
    /// Effective permissions.
    pub permissions: PermissionSet,
}

impl From<&Actor> for Principal {
    fn from(actor: &Actor) -> Self {
        Self {
            user_id: actor.user_id.map(|u| u.0),
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

fn refused(e: &impl DomainError, room: &str) -> ErrorMessage {
    let (code, message) = match e.kind() {
        ErrorKind::NotFound => (ErrorCode::NotFound, "no such record, or not visible to you"),
        ErrorKind::Forbidden => (ErrorCode::Forbidden, "you may not read this record"),
        ErrorKind::Unavailable => (ErrorCode::Unavailable, "database unavailable: try again"),
        _ => (
            ErrorCode::Unavailable,
            "the room could not be checked: try again",
        ),
    };
    if code == ErrorCode::Unavailable {
        tracing::warn!(error = %e, room, "room check failed");
    }
    ErrorMessage::new(code, message, Some(room))
}

/// `Ok` when `actor` may join `room`: the record exists and the actor may read it (its own
/// `get` service decides), a board needs `pipelines.read` and `deals.read`, and `user:{id}`
/// is only for that user.
pub async fn authorize(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    room: Room,
) -> Result<(), ErrorMessage> {
    let name = room.to_string();
    match room {
        Room::Deal(id) => crm_deals::get_deal(conn, actor, id)
            .await
            .map(drop)
            .map_err(|e| refused(&e, &name)),
        Room::Contact(id) => crm_contacts::get_contact(conn, actor, id)
            .await
            .map(drop)
            .map_err(|e| refused(&e, &name)),
        Room::Task(id) => crm_tasks::get_task(conn, actor, id)
            .await
            .map(drop)
            .map_err(|e| refused(&e, &name)),
        Room::Pipeline(id) => {
            crm_pipelines::get_pipeline(conn, actor, id)
                .await
                .map_err(|e| refused(&e, &name))?;
            if actor.can(Permission::DealsRead) {
                Ok(())
            } else {
                Err(ErrorMessage::new(
                    ErrorCode::Forbidden,
                    "a board shows deals: deals.read is needed",
                    Some(&name),
                ))
            }
        }
        Room::User(id) => {
            if actor.is_user(UserId(id)) {
                Ok(())
            } else {
                Err(ErrorMessage::new(
                    ErrorCode::Forbidden,
                    "a personal room is only for its user",
                    Some(&name),
                ))
            }
        }
    }
}
