//! `GET /websocket`: the WebSocket gateway (ARCHITECTURE §4). The credential (bearer header
//! or `?token=`) is checked before the upgrade, so a missing or invalid one gets the usual
//! problem+json 401. After the upgrade this module only moves frames: the protocol
//! (subscriptions, resume, limits, heartbeats, credential checks) is `crm_realtime::Client`.

use std::time::Duration;

use actix_web::{HttpRequest, HttpResponse, get, web};
use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, CloseReason, Session};
use crm_auth::AuthError;
use crm_realtime::{Client, CloseWhy, Next};
use serde::Deserialize;

use crate::extract::bearer_token;
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// How long a close frame may take to reach a client before the connection is dropped.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(2);

/// Query of `GET /websocket`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WebSocketQuery {
    /// The access token (or API key), for clients that cannot set an `Authorization` header
    /// on a WebSocket (browsers). The header wins when both are given.
    pub token: Option<String>,
}

/// Opens a WebSocket for live updates. Messages are JSON text frames: the client sends
/// `{"action": "subscribe", "room": "deal:<id>", "since": 120}` and
/// `{"action": "unsubscribe", "room": ...}`; the server sends `subscribed`, `unsubscribed`,
/// `event` (`{"type": "event", "event": "deal.updated", "room": ..., "seq": 121, "data": {...}}`)
/// and `error` messages. Rooms: `deal:{id}`, `contact:{id}`, `task:{id}`, `pipeline:{id}`,
/// `user:{id}`. See docs/api-conventions.md, "Realtime", for events, resume, limits and close
/// codes.
#[utoipa::path(get, path = "/websocket", tag = "realtime", params(WebSocketQuery), security(("bearer" = [])), responses(
    (status = 101, description = "Switching Protocols: the WebSocket is open"),
    (status = 400, body = Problem, content_type = "application/problem+json", description = "Not a WebSocket upgrade request, or an unknown query parameter"),
    (status = 401, body = Problem, content_type = "application/problem+json", description = "No, invalid or expired credential (`missing_token`, `invalid_token`)"),
))]
#[get("/websocket")]
pub async fn websocket(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
    query: web::Query<WebSocketQuery>,
) -> Result<HttpResponse, ApiError> {
    let token = bearer_token(&req)
        .or_else(|| {
            query
                .into_inner()
                .token
                .map(|t| t.trim().to_owned())
                .filter(|t| !t.is_empty())
        })
        .ok_or(AuthError::MissingToken)?;
    let actor = {
        let mut conn = state.conn().await?;
        crm_auth::authenticate(&mut conn, &state.auth, &token).await?
    };
    let (response, session, stream) = actix_ws::handle(&req, body).map_err(|e| {
        ApiError::bad_request(
            "websocket_upgrade_required",
            format!("GET /websocket must be a WebSocket upgrade: {e}"),
        )
    })?;
    let max = state.realtime.settings().max_message_bytes;
    let stream = stream
        .max_frame_size(max)
        .aggregate_continuations()
        .max_continuation_size(max);
    let client = state.realtime.connect(actor, token);
    actix_web::rt::spawn(run(client, session, stream));
    Ok(response)
}

fn close_reason(why: CloseWhy) -> CloseReason {
    let code = match why.code() {
        1000 => CloseCode::Normal,
        1001 => CloseCode::Away,
        1002 => CloseCode::Protocol,
        1009 => CloseCode::Size,
        other => CloseCode::Other(other),
    };
    CloseReason {
        code,
        description: Some(why.reason().to_owned()),
    }
}

/// Writes a frame unless the client must be closed meanwhile (a blocked write to a client
/// that stopped reading never holds the connection open).
async fn write(session: &mut Session, client: &Client, next: Next) -> Result<(), Option<CloseWhy>> {
    let timeout = tokio::time::sleep(client.write_timeout());
    let sent = match next {
        Next::Text(text) => {
            tokio::select! {
                sent = session.text(text) => sent,
                why = client.killed() => return Err(Some(why)),
                _ = timeout => return Err(Some(CloseWhy::SlowConsumer)),
            }
        }
        Next::Ping => {
            tokio::select! {
                sent = session.ping(b"") => sent,
                why = client.killed() => return Err(Some(why)),
                _ = timeout => return Err(Some(CloseWhy::SlowConsumer)),
            }
        }
        Next::Close(why) => return Err(Some(why)),
    };
    sent.map_err(|_| None)
}

/// Moves frames between the socket and the client state until one side ends.
async fn run(mut client: Client, mut session: Session, mut stream: AggregatedMessageStream) {
    let why: Option<CloseWhy> = 'session: loop {
        tokio::select! {
            frame = stream.recv() => {
                client.touch();
                let replies = match frame {
                    None => break 'session None,
                    Some(Ok(AggregatedMessage::Text(text))) => match client.on_text(&text).await {
                        Ok(replies) => replies,
                        Err(why) => break 'session Some(why),
                    },
                    Some(Ok(AggregatedMessage::Binary(_))) => vec![client.on_binary()],
                    Some(Ok(AggregatedMessage::Ping(bytes))) => {
                        if session.pong(&bytes).await.is_err() {
                            break 'session None;
                        }
                        Vec::new()
                    }
                    Some(Ok(AggregatedMessage::Pong(_))) => Vec::new(),
                    Some(Ok(AggregatedMessage::Close(_))) => break 'session Some(CloseWhy::Normal),
                    Some(Err(actix_ws::ProtocolError::Overflow)) => break 'session Some(CloseWhy::TooBig),
                    // The aggregator's one error of kind `Other` is a message over the size
                    // limit; a payload error of that kind means the peer is gone, so the close
                    // code reaches no one.
                    Some(Err(actix_ws::ProtocolError::Io(e))) if e.kind() == std::io::ErrorKind::Other => {
                        break 'session Some(CloseWhy::TooBig);
                    }
                    Some(Err(_)) => break 'session Some(CloseWhy::Protocol),
                };
                for reply in replies {
                    if let Err(why) = write(&mut session, &client, Next::Text(reply)).await {
                        break 'session why;
                    }
                }
            }
            next = client.next() => {
                if let Err(why) = write(&mut session, &client, next).await {
                    break 'session why;
                }
            }
        }
    };
    let rooms = client.rooms().len();
    drop(client);
    if let Some(why) = why {
        tracing::debug!(code = why.code(), rooms, "closing WebSocket");
        // The closing handshake: send our Close, then wait (briefly) for the client's, so the
        // client reads the reason before the TCP connection goes.
        let _ = tokio::time::timeout(CLOSE_TIMEOUT, async {
            if session.close(Some(close_reason(why))).await.is_ok() && why != CloseWhy::Normal {
                while let Some(Ok(frame)) = stream.recv().await {
                    if matches!(frame, AggregatedMessage::Close(_)) {
                        break;
                    }
                }
            }
        })
        .await;
    }
}
