//! The trash of contacts, companies, deals and tasks: `DELETE` moves a record there (or, with
//! `?permanent=true`, deletes it for good) and `POST .../restore` takes it out, the same way
//! for each record type.

use actix_web::HttpResponse;
use crm_core::Actor;
use crm_db::AsyncPgConnection;
use serde::Deserialize;

use crate::envelope::{Versioned, versioned};
use crate::extract::IfMatch;
use crate::problem::ApiError;
use crate::state::AppState;

/// Query of `DELETE` of a record with a trash.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DeleteQuery {
    /// `true`: delete for good instead of moving to the trash (admins only).
    pub permanent: Option<bool>,
}

/// 204 once `delete(conn, actor, id, permanent, expected_version)` has trashed or deleted the
/// record.
pub async fn delete<I, E>(
    state: &AppState,
    actor: &Actor,
    id: I,
    query: DeleteQuery,
    if_match: IfMatch,
    delete: impl AsyncFnOnce(&mut AsyncPgConnection, &Actor, I, bool, Option<i32>) -> Result<(), E>,
) -> Result<HttpResponse, ApiError>
where
    ApiError: From<E>,
{
    let mut conn = state.conn().await?;
    let permanent = query.permanent.unwrap_or(false);
    delete(&mut conn, actor, id, permanent, if_match.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// 200 with the record `restore(conn, actor, id)` took out of the trash, and its `ETag`.
pub async fn restore<I, T: Versioned, E>(
    state: &AppState,
    actor: &Actor,
    id: I,
    restore: impl AsyncFnOnce(&mut AsyncPgConnection, &Actor, I) -> Result<T, E>,
) -> Result<HttpResponse, ApiError>
where
    ApiError: From<E>,
{
    let mut conn = state.conn().await?;
    Ok(versioned(restore(&mut conn, actor, id).await?))
}
