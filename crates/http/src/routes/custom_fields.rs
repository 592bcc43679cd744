//! `/api/custom-fields`: typed custom field definitions of contacts, companies, deals and
//! tasks, their order, and changes that convert stored values.

use actix_web::{HttpResponse, delete, get, patch, post, put, web};
use crm_core::CustomFieldId;
use crm_custom_fields::{
    CreateCustomField, CustomField, CustomFieldEntity, ListCustomFields, ReorderCustomFields,
    UpdateCustomField,
};
use crm_record_events::RecordEvents;
use serde::Deserialize;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::body::Json;
use crate::envelope::{Data, List, created, list, ok, ok_versioned};
use crate::extract::{AuthActor, IfMatch};
use crate::list_query::{ListFilters, ListQuery, ListSpec};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;

pub(crate) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_custom_fields)
        .service(create_custom_field)
        .service(reorder_custom_fields)
        .service(get_custom_field)
        .service(update_custom_field)
        .service(delete_custom_field);
}

/// The filters of `GET /api/custom-fields`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct CustomFieldFilters {
    /// Only the fields of `contact`, `company`, `deal` or `task`.
    pub entity_type: Option<CustomFieldEntity>,
    /// Only active (`true`) or inactive (`false`) fields.
    pub is_active: Option<bool>,
}

impl ListFilters for CustomFieldFilters {
    const SPEC: ListSpec = ListSpec::whole("a record type has at most 100 fields");
}

/// The custom field definitions (`custom_fields.read`, every role), by record type and
/// position: all a client needs to render and check forms (type, options, required, default,
/// position, active).
#[utoipa::path(get, path = "/custom-fields", tag = "custom-fields", params(ListQuery<CustomFieldFilters>), security(("bearer" = [])), responses(
    (status = 200, body = List<CustomField>),
))]
#[get("/custom-fields")]
async fn list_custom_fields(
    state: web::Data<AppState>,
    actor: AuthActor,
    query: ListQuery<CustomFieldFilters>,
) -> Result<HttpResponse, ApiError> {
    let input = ListCustomFields {
        entity_type: query.filters.entity_type,
        is_active: query.filters.is_active,
    };
    let mut conn = state.conn().await?;
    let fields = crm_custom_fields::list_custom_fields(&mut conn, &actor.0, &input).await?;
    Ok(list(query.list.page.slice(fields)))
}

/// Creates a custom field (`custom_fields.manage`) at the end of its record type's fields
/// (or at `position`), with the indexes that serve its filters.
#[utoipa::path(post, path = "/custom-fields", tag = "custom-fields", request_body = CreateCustomField, security(("bearer" = [])), responses(
    (status = 201, body = Data<CustomField>, headers(("Location" = String), ("ETag" = String))),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`duplicate_custom_field_key`, `too_many_custom_fields`; `values_do_not_convert` / `values_not_unique` for values stored under the key before it was defined"),
))]
#[post("/custom-fields")]
async fn create_custom_field(
    state: web::Data<AppState>,
    actor: AuthActor,
    body: Json<CreateCustomField>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let field = crm_custom_fields::create_custom_field(
        &mut conn,
        &actor.0,
        body.into_inner(),
        &RecordEvents,
    )
    .await?;
    let (location, version) = (format!("/api/custom-fields/{}", field.id), field.version);
    Ok(created(location, field, Some(version)))
}

/// Puts one record type's fields in a new order (`custom_fields.manage`); `fieldIds` lists
/// every field of the type exactly once.
#[utoipa::path(put, path = "/custom-fields/order", tag = "custom-fields", request_body = ReorderCustomFields, security(("bearer" = [])), responses(
    (status = 200, body = Data<Vec<CustomField>>, description = "The record type's fields in the new order"),
))]
#[put("/custom-fields/order")]
async fn reorder_custom_fields(
    state: web::Data<AppState>,
    actor: AuthActor,
    body: Json<ReorderCustomFields>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    Ok(ok(crm_custom_fields::reorder_custom_fields(
        &mut conn,
        &actor.0,
        body.into_inner(),
    )
    .await?))
}

/// Reads a custom field (`custom_fields.read`).
#[utoipa::path(get, path = "/custom-fields/{id}", tag = "custom-fields", params(("id" = Uuid, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Data<CustomField>, headers(("ETag" = String))),
))]
#[get("/custom-fields/{id}")]
async fn get_custom_field(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<CustomFieldId>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let field = crm_custom_fields::get_custom_field(&mut conn, &actor.0, *id).await?;
    let version = field.version;
    Ok(ok_versioned(field, version))
}

/// Changes a custom field (`custom_fields.manage`). Renaming, adding or reordering options,
/// moving it, `isRequired` and the default are free. A new `type` or removed options convert
/// every stored value in one transaction, or answer 409 with the number of records in the way;
/// `isActive: false` hides the field and keeps its values. `key` and `entityType` are
/// immutable.
#[utoipa::path(patch, path = "/custom-fields/{id}", tag = "custom-fields", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header, description = "ETag of the version being changed")), request_body = UpdateCustomField, security(("bearer" = [])), responses(
    (status = 200, body = Data<CustomField>, headers(("ETag" = String))),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "`option_in_use`, `values_do_not_convert`, `values_not_unique` (with the number of records in the way), `custom_field_inactive`"),
))]
#[patch("/custom-fields/{id}")]
async fn update_custom_field(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<CustomFieldId>,
    if_match: IfMatch,
    body: Json<UpdateCustomField>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let field = crm_custom_fields::update_custom_field(
        &mut conn,
        &actor.0,
        *id,
        body.into_inner(),
        if_match.0,
        &RecordEvents,
    )
    .await?;
    let version = field.version;
    Ok(ok_versioned(field, version))
}

/// Deletes a custom field (`custom_fields.manage`) and removes its values from every record
/// (trash included), each change recorded in the record's activity.
#[utoipa::path(delete, path = "/custom-fields/{id}", tag = "custom-fields", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header)), security(("bearer" = [])), responses(
    (status = 204, description = "Deleted"),
))]
#[delete("/custom-fields/{id}")]
async fn delete_custom_field(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<CustomFieldId>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    crm_custom_fields::delete_custom_field(&mut conn, &actor.0, *id, if_match.0, &RecordEvents)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
