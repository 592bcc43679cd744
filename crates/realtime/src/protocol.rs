//! The JSON messages of the WebSocket protocol (ARCHITECTURE §4), and the close reasons.
//!
//! Client: `{"action": "subscribe", "room": "deal:<id>", "since": 120}` (`since` optional),
//! `{"action": "unsubscribe", "room": "..."}`.
//! Server: `subscribed`, `unsubscribed`, `event` and `error` messages (see the builders).

use bytestring::ByteString;
use crm_events::Room;
use serde::Deserialize;
use serde_json::json;

/// A message from the client.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "action", rename_all = "camelCase", deny_unknown_fields)]
pub enum ClientMessage {
    /// Join a room, optionally replaying its events with `seq > since` first.
    Subscribe {
        /// `deal:<id>`, `contact:<id>`, `task:<id>`, `pipeline:<id>` or `user:<id>`.
        room: String,
        /// The last `seq` the client has seen (exclusive).
        #[serde(default)]
        since: Option<i64>,
    },
    /// Leave a room.
    Unsubscribe {
        /// The room.
        room: String,
    },
}

/// Error codes of `{"type": "error"}` messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// Malformed or unknown message, bad room name or `since`.
    BadRequest,
    /// The user may not read the room's record (or another user's room).
    Forbidden,
    /// No such record, or not visible to the user.
    NotFound,
    /// The connection is in as many rooms as allowed.
    TooManyRooms,
    /// `since` is older than the retained events (or newer than any): reload the record and
    /// subscribe without `since`.
    ResyncRequired,
    /// The database is unavailable: try again.
    Unavailable,
    /// The client sends messages faster than allowed: slow down.
    RateLimited,
}

impl ErrorCode {
    /// The wire code.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::TooManyRooms => "too_many_rooms",
            ErrorCode::ResyncRequired => "resync_required",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::RateLimited => "rate_limited",
        }
    }
}

/// An error answer, about a room when `room` is set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorMessage {
    /// Machine-readable code.
    pub code: ErrorCode,
    /// For people.
    pub message: String,
    /// The room it is about, as the client wrote it.
    pub room: Option<String>,
}

impl ErrorMessage {
    /// An error.
    pub fn new(code: ErrorCode, message: impl Into<String>, room: Option<&str>) -> Self {
        Self {
            code,
            message: message.into(),
            room: room.map(|r| r.chars().take(100).collect()),
        }
    }

    /// `{"type": "error", "code": ..., "message": ..., "room": ...}`.
    pub fn to_text(&self) -> ByteString {
        let mut v = json!({"type": "error", "code": self.code.as_str(), "message": self.message});
        if let Some(room) = &self.room {
            v["room"] = json!(room);
        }
        v.to_string().into()
    }
}

/// `{"type": "subscribed", "room": ...}`.
pub fn subscribed(room: Room) -> ByteString {
    json!({"type": "subscribed", "room": room.to_string()})
        .to_string()
        .into()
}

/// `{"type": "unsubscribed", "room": ...}`.
pub fn unsubscribed(room: &str) -> ByteString {
    json!({"type": "unsubscribed", "room": room})
        .to_string()
        .into()
}

/// `{"type": "event", "event": ..., "room": ..., "seq": ..., "data": ...}` with `data` the
/// stored JSON text, inserted as is.
pub fn event(name: &str, room: &str, seq: i64, data: &str) -> ByteString {
    let name = serde_json::to_string(name).unwrap_or_default();
    let room = serde_json::to_string(room).unwrap_or_default();
    format!(r#"{{"type":"event","event":{name},"room":{room},"seq":{seq},"data":{data}}}"#).into()
}

/// What is wrong with a client message (the text of a `bad_request` answer).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadMessage {
    /// No `action` field.
    #[error("every message needs an action: subscribe or unsubscribe")]
    NoAction,
    /// An `action` other than the two.
    #[error("unknown action: use subscribe or unsubscribe")]
    UnknownAction,
    /// Not JSON, or fields missing, unknown or mistyped.
    #[error("malformed message: {0}")]
    Malformed(String),
}

/// Parses a client message: the action first (so a missing or unknown one is told apart by
/// type, not by the text of a serde error), then the whole message.
pub fn parse(text: &str) -> Result<ClientMessage, BadMessage> {
    #[derive(Deserialize)]
    struct Head<'a> {
        #[serde(borrow, default)]
        action: Option<std::borrow::Cow<'a, str>>,
    }
    let malformed = |e: serde_json::Error| BadMessage::Malformed(e.to_string());
    let head: Head = serde_json::from_str(text).map_err(malformed)?;
    match head.action.as_deref() {
        None => Err(BadMessage::NoAction),
        Some("subscribe" | "unsubscribe") => serde_json::from_str(text).map_err(malformed),
        Some(_) => Err(BadMessage::UnknownAction),
    }
}

/// Why the server closes a connection; each has a WebSocket close code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseWhy {
    /// The client asked to close.
    Normal,
    /// The server is shutting down (1001): reconnect, to this or another instance.
    ServerShutdown,
    /// The client sent a malformed frame (1002).
    Protocol,
    /// The client sent a frame over the size limit (1009).
    TooBig,
    /// No frame from the client for the idle timeout (4000).
    Idle,
    /// The access token expired, or the credential was revoked or the user deactivated
    /// (4001): reconnect with a fresh token (and `since` to resume).
    Unauthorized,
    /// The client read too slowly and its send queue filled up (4008): reconnect and resume.
    SlowConsumer,
}

impl CloseWhy {
    /// The close code.
    pub fn code(self) -> u16 {
        match self {
            CloseWhy::Normal => 1000,
            CloseWhy::ServerShutdown => 1001,
            CloseWhy::Protocol => 1002,
            CloseWhy::TooBig => 1009,
            CloseWhy::Idle => 4000,
            CloseWhy::Unauthorized => 4001,
            CloseWhy::SlowConsumer => 4008,
        }
    }

    /// The close reason text (at most 123 bytes).
    pub fn reason(self) -> &'static str {
        match self {
            CloseWhy::Normal => "bye",
            CloseWhy::ServerShutdown => "server shutting down: reconnect and resume with since",
            CloseWhy::Protocol => "protocol error",
            CloseWhy::TooBig => "message too big",
            CloseWhy::Idle => "idle timeout: no frame from the client",
            CloseWhy::Unauthorized => {
                "token expired or revoked: reconnect with a fresh token and resume with since"
            }
            CloseWhy::SlowConsumer => "send queue full: client too slow; reconnect and resume",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    #[test]
    fn client_messages_parse_and_bad_ones_are_explained() {
        assert_eq!(
            parse(r#"{"action":"subscribe","room":"deal:x","since":5}"#),
            Ok(ClientMessage::Subscribe {
                room: "deal:x".into(),
                since: Some(5)
            })
        );
        assert_eq!(
            parse(r#"{"action":"unsubscribe","room":"deal:x"}"#),
            Ok(ClientMessage::Unsubscribe {
                room: "deal:x".into()
            })
        );
        assert_eq!(
            parse(r#"{"action":"dance"}"#),
            Err(BadMessage::UnknownAction)
        );
        assert_eq!(parse(r#"{"room":"x"}"#), Err(BadMessage::NoAction));
        assert_eq!(parse(r#"{"action":null}"#), Err(BadMessage::NoAction));
        assert!(matches!(parse("{nope"), Err(BadMessage::Malformed(_))));
        assert!(matches!(parse("[1]"), Err(BadMessage::Malformed(_))));
        assert!(matches!(
            parse(r#"{"action":"subscribe"}"#),
            Err(BadMessage::Malformed(_))
        ));
        assert!(parse(r#"{"action":"subscribe","room":"x","extra":1}"#).is_err());
        assert!(parse(r#"{"action":"subscribe","room":"x","since":"5"}"#).is_err());
    }

    #[test]
    fn event_messages_embed_the_stored_json() {
        let room = Room::Deal(Uuid::nil().into()).to_string();
        let text = event("deal.updated", &room, 7, r#"{"id": 1}"#);
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v,
            json!({"type": "event", "event": "deal.updated", "room": room, "seq": 7, "data": {"id": 1}})
        );
        let close_reasons = [
            CloseWhy::Normal,
            CloseWhy::ServerShutdown,
            CloseWhy::Protocol,
            CloseWhy::TooBig,
            CloseWhy::Idle,
            CloseWhy::Unauthorized,
            CloseWhy::SlowConsumer,
        ];
        assert!(close_reasons.iter().all(|c| c.reason().len() <= 123));
    }
}
