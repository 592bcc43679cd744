//! `POST /api/<resource>/batch {"items": [...]}`: up to 100 creates or updates (an item with an
//! `id` is an update), each answered on its own and committed on its own, so valid items land
//! even when others fail.

use std::future::Future;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use crm_core::{Actor, FieldError};
use crm_db::AsyncPgConnection;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use uuid::Uuid;

use crate::problem::{ApiError, Problem};
use crate::state::AppState;

/// Most items in one batch.
pub const MAX_BATCH: usize = 100;

/// A batch request body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// Creates (no `id`) or updates (with `id`, optional `version` for the If-Match check).
    #[serde(deserialize_with = "first_items")]
    #[schema(min_items = 1, max_items = 100)]
    pub items: Vec<Value>,
}

/// The first `MAX_BATCH + 1` items; the rest are skipped without being built (a 1 MiB body can
/// hold hundreds of thousands of items), and one more than allowed is enough to refuse.
fn first_items<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<Value>, D::Error> {
    struct Visitor;
    impl<'de> serde::de::Visitor<'de> for Visitor {
        type Value = Vec<Value>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an array of items")
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(
            self,
            mut seq: A,
        ) -> Result<Vec<Value>, A::Error> {
            let mut items = Vec::new();
            while items.len() <= MAX_BATCH {
                match seq.next_element::<Value>()? {
                    Some(item) => items.push(item),
                    None => return Ok(items),
                }
            }
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok(items)
        }
    }
    d.deserialize_seq(Visitor)
}

/// The answer for one item: `status` with `data`, or `status` with `problem`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct BatchItemResult {
    /// HTTP status this item would have had on its own.
    pub status: u16,
    /// The created or updated record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<Value>,
    /// Why the item failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problem: Option<Problem>,
}

/// One item split into its id (for updates), expected version and the remaining fields.
pub struct BatchItem {
    /// Id of the record to update; `None` for a create.
    pub id: Option<Uuid>,
    /// Expected version (`If-Match`) for an update.
    pub version: Option<i32>,
    /// The fields, as for a single create or update.
    pub body: Value,
}

fn split(item: Value) -> Result<BatchItem, ApiError> {
    let Value::Object(mut map) = item else {
        return Err(ApiError::bad_request(
            "invalid_body",
            "each item must be a JSON object",
        ));
    };
    let id = match map.remove("id") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            serde_json::from_value(v)
                .map_err(|_| ApiError::invalid(vec![FieldError::new("id", "must be a UUID")]))?,
        ),
    };
    let version = match map.remove("version") {
        None | Some(Value::Null) => None,
        Some(v) => Some(serde_json::from_value(v).map_err(|_| {
            ApiError::invalid(vec![FieldError::new("version", "must be an integer")])
        })?),
    };
    Ok(BatchItem {
        id,
        version,
        body: Value::Object(map),
    })
}

/// Parses an item's fields into the create or update input of the resource.
pub fn parse<T: DeserializeOwned>(body: Value) -> Result<T, ApiError> {
    crate::body::parse_value(body)
}

/// Runs `handle` for every item in order and answers 200 with one result per item.
pub async fn run_batch<F, Fut>(
    request: BatchRequest,
    mut handle: F,
) -> Result<HttpResponse, ApiError>
where
    F: FnMut(BatchItem) -> Fut,
    Fut: Future<Output = Result<(u16, Value), ApiError>>,
{
    if request.items.is_empty() || request.items.len() > MAX_BATCH {
        return Err(ApiError::invalid(vec![FieldError::new(
            "items",
            "must hold 1 to 100 items",
        )]));
    }
    let mut results = Vec::with_capacity(request.items.len());
    for item in request.items {
        let outcome = match split(item) {
            Ok(item) => handle(item).await,
            Err(e) => Err(e),
        };
        results.push(match outcome {
            Ok((status, data)) => BatchItemResult {
                status,
                data: Some(data),
                problem: None,
            },
            Err(e) => BatchItemResult {
                status: e.status().as_u16(),
                data: None,
                problem: Some(e.problem()),
            },
        });
    }
    Ok(HttpResponse::Ok().json(crate::envelope::Data { data: results }))
}

/// A batch of creates (`create(conn, actor, input)`) and updates (`update(conn, actor, id,
/// input, expected_version)`) of one record type. Every item gets its own connection and
/// transaction: one failing leaves the others intact.
pub async fn create_or_update<I, C, U, T, E>(
    state: &AppState,
    actor: &Actor,
    request: BatchRequest,
    create: impl AsyncFn(&mut AsyncPgConnection, &Actor, C) -> Result<T, E>,
    update: impl AsyncFn(&mut AsyncPgConnection, &Actor, I, U, Option<i32>) -> Result<T, E>,
) -> Result<HttpResponse, ApiError>
where
    I: From<Uuid>,
    C: DeserializeOwned,
    U: DeserializeOwned,
    T: Serialize,
    ApiError: From<E>,
{
    let (create, update) = (&create, &update);
    run_batch(request, |item| async move {
        let mut conn = state.conn().await?;
        let (status, record) = match item.id {
            Some(id) => {
                let input = parse(item.body)?;
                (
                    200,
                    update(&mut conn, actor, id.into(), input, item.version).await?,
                )
            }
            None => (201, create(&mut conn, actor, parse(item.body)?).await?),
        };
        let value = serde_json::to_value(record)
            .map_err(|_| ApiError::from_status(StatusCode::INTERNAL_SERVER_ERROR))?;
        Ok((status, value))
    })
    .await
}
