//! `/api/contacts`: CRUD, trash, restore and batch of contacts, and a company's contacts.

use actix_web::{HttpResponse, delete, get, patch, post, web};
use crm_contacts::{Contact, ContactSort, CreateContact, ListContacts, UpdateContact};
use crm_core::{CompanyId, ContactId, UserId};
use crm_custom_fields::CustomFieldEntity;
use crm_db::AsyncPgConnection;
use serde::Deserialize;
use utoipa_actix_web::service_config::ServiceConfig;

use crate::batch::{BatchItemResult, BatchRequest, create_or_update};
use crate::body::Json;
use crate::envelope::{Data, Paged, created, listing, versioned};
use crate::extract::{AuthActor, IfMatch};
use crate::list_query::{ListFilters, ListQuery, ListSpec};
use crate::problem::{ApiError, Problem};
use crate::state::AppState;
use crate::trash::{self, DeleteQuery};

pub(crate) fn configure(cfg: &mut ServiceConfig) {
    cfg.service(list_contacts)
        .service(create_contact)
        .service(batch_contacts)
        .service(get_contact)
        .service(update_contact)
        .service(delete_contact)
        .service(restore_contact)
        .service(list_company_contacts);
}

/// The filters of `GET /api/contacts` and `GET /api/companies/{id}/contacts`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ContactFilters {
    /// Fragment of the full name, e-mail or phone (case-insensitive).
    pub q: Option<String>,
    /// Only contacts of this company.
    pub company_id: Option<CompanyId>,
    /// Only contacts of this owner.
    pub owner_id: Option<UserId>,
    /// Only contacts with this tag.
    pub tag: Option<String>,
    /// Only the contact with this e-mail (case-insensitive).
    pub email: Option<String>,
    /// Only contacts whose company is of this industry (case-insensitive).
    #[serde(rename = "company.industry")]
    #[param(rename = "company.industry")]
    pub company_industry: Option<String>,
    /// Only contacts whose company's name contains this fragment (case-insensitive).
    #[serde(rename = "company.name")]
    #[param(rename = "company.name")]
    pub company_name: Option<String>,
}

impl ListFilters for ContactFilters {
    const SPEC: ListSpec = ListSpec::records(
        CustomFieldEntity::Contact,
        "Comma list of `createdAt`, `updatedAt`, `fullName`, `email`; `-` for descending. \
         Default `createdAt`.",
    );
}

/// The service's list input: both contact lists take the same parameters.
pub(crate) async fn list_input(
    conn: &mut AsyncPgConnection,
    query: ListQuery<ContactFilters>,
) -> Result<ListContacts, ApiError> {
    let (sort, custom_fields) = query
        .sort_and_filters(
            conn,
            ContactSort::ALLOWED,
            ContactSort::CreatedAt,
            ContactSort::CustomField,
        )
        .await?;
    let (shared, f) = (query.list, query.filters);
    Ok(ListContacts {
        page: shared.page,
        sort,
        cursor: shared.cursor,
        q: f.q,
        company_id: f.company_id,
        owner_id: f.owner_id,
        tag: f.tag,
        email: f.email,
        updated_since: shared.updated_since,
        deleted: shared.deleted,
        company_industry: f.company_industry,
        company_name: f.company_name,
        custom_fields,
    })
}

/// Lists the contacts the actor may see (`contacts.read`; all of them with
/// `contacts.read_all`, otherwise the ones they own). With `cursor` the answer is
/// keyset-paged (`meta.nextCursor`).
///
/// Custom fields: `cf.<key>=value` (repeat for any of several; MULTI_SELECT: has the option),
/// `cf.<key>.gte|gt|lte|lt=value` (NUMBER, DATE, DATETIME), `cf.<key>.exists=true|false`, and
/// `sort=cf.<key>` / `-cf.<key>`. An unknown or inactive key is a 400 naming the parameter.
#[utoipa::path(get, path = "/contacts", tag = "contacts", params(ListQuery<ContactFilters>), security(("bearer" = [])), responses(
    (status = 200, body = Paged<Contact>, description = "A page; with `cursor`, keyset-paged: `meta` is `{limit, nextCursor}`"),
))]
#[get("/contacts")]
async fn list_contacts(
    state: web::Data<AppState>,
    actor: AuthActor,
    query: ListQuery<ContactFilters>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let input = list_input(&mut conn, query).await?;
    Ok(listing(
        crm_contacts::list_contacts(&mut conn, &actor.0, &input).await?,
    ))
}

/// Lists the visible contacts of a visible company (`contacts.read`, `companies.read`).
#[utoipa::path(get, path = "/companies/{id}/contacts", tag = "contacts", params(("id" = Uuid, Path), ListQuery<ContactFilters>), security(("bearer" = [])), responses(
    (status = 200, body = Paged<Contact>, description = "A page; with `cursor`, keyset-paged: `meta` is `{limit, nextCursor}`"),
))]
#[get("/companies/{id}/contacts")]
async fn list_company_contacts(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<CompanyId>,
    query: ListQuery<ContactFilters>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let input = list_input(&mut conn, query).await?;
    Ok(listing(
        crm_contacts::list_company_contacts(&mut conn, &actor.0, *id, &input).await?,
    ))
}

/// Creates a contact (`contacts.write`).
#[utoipa::path(post, path = "/contacts", tag = "contacts", request_body = CreateContact, security(("bearer" = [])), responses(
    (status = 201, body = Data<Contact>, headers(("Location" = String), ("ETag" = String))),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "E-mail already in use (`duplicate_email`)"),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`unknown_company` or `unknown_user`"),
))]
#[post("/contacts")]
async fn create_contact(
    state: web::Data<AppState>,
    actor: AuthActor,
    body: Json<CreateContact>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let contact = crm_contacts::create_contact(&mut conn, &actor.0, body.into_inner()).await?;
    let (location, version) = (format!("/api/contacts/{}", contact.id), contact.version);
    Ok(created(location, contact, Some(version)))
}

/// Creates (items without `id`) or updates (with `id`, optional `version` as If-Match) up to
/// 100 contacts, each on its own: one result per item, in order.
#[utoipa::path(post, path = "/contacts/batch", tag = "contacts", request_body = BatchRequest, security(("bearer" = [])), responses(
    (status = 200, body = Data<Vec<BatchItemResult>>),
))]
#[post("/contacts/batch")]
async fn batch_contacts(
    state: web::Data<AppState>,
    actor: AuthActor,
    body: Json<BatchRequest>,
) -> Result<HttpResponse, ApiError> {
    let (create, update) = (crm_contacts::create_contact, crm_contacts::update_contact);
    create_or_update(&state, &actor.0, body.into_inner(), create, update).await
}

/// Reads a contact (`contacts.read`); trashed or not visible: 404.
#[utoipa::path(get, path = "/contacts/{id}", tag = "contacts", params(("id" = Uuid, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Data<Contact>, headers(("ETag" = String))),
))]
#[get("/contacts/{id}")]
async fn get_contact(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<ContactId>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let contact = crm_contacts::get_contact(&mut conn, &actor.0, *id).await?;
    Ok(versioned(contact))
}

/// Changes a contact (`contacts.write`). `null` clears a field; `companyId: null` unlinks the
/// company. `If-Match` guards against lost updates (412).
#[utoipa::path(patch, path = "/contacts/{id}", tag = "contacts", params(("id" = Uuid, Path), ("If-Match" = Option<String>, Header, description = "ETag of the version being changed")), request_body = UpdateContact, security(("bearer" = [])), responses(
    (status = 200, body = Data<Contact>, headers(("ETag" = String))),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "E-mail already in use (`duplicate_email`)"),
    (status = 422, body = Problem, content_type = "application/problem+json", description = "`unknown_company` or `unknown_user`"),
))]
#[patch("/contacts/{id}")]
async fn update_contact(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<ContactId>,
    if_match: IfMatch,
    body: Json<UpdateContact>,
) -> Result<HttpResponse, ApiError> {
    let mut conn = state.conn().await?;
    let contact =
        crm_contacts::update_contact(&mut conn, &actor.0, *id, body.into_inner(), if_match.0)
            .await?;
    Ok(versioned(contact))
}

/// Moves a contact to the trash (`contacts.delete`); `?permanent=true` deletes it for good
/// (admins only).
#[utoipa::path(delete, path = "/contacts/{id}", tag = "contacts", params(("id" = Uuid, Path), DeleteQuery, ("If-Match" = Option<String>, Header)), security(("bearer" = [])), responses(
    (status = 204, description = "Trashed or deleted"),
))]
#[delete("/contacts/{id}")]
async fn delete_contact(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<ContactId>,
    query: web::Query<DeleteQuery>,
    if_match: IfMatch,
) -> Result<HttpResponse, ApiError> {
    trash::delete(
        &state,
        &actor.0,
        *id,
        query.into_inner(),
        if_match,
        crm_contacts::delete_contact,
    )
    .await
}

/// Takes a contact out of the trash (`contacts.delete`); 409 when another contact took its
/// e-mail meanwhile.
#[utoipa::path(post, path = "/contacts/{id}/restore", tag = "contacts", params(("id" = Uuid, Path)), security(("bearer" = [])), responses(
    (status = 200, body = Data<Contact>, headers(("ETag" = String))),
    (status = 409, body = Problem, content_type = "application/problem+json", description = "E-mail taken meanwhile (`duplicate_email`)"),
))]
#[post("/contacts/{id}/restore")]
async fn restore_contact(
    state: web::Data<AppState>,
    actor: AuthActor,
    id: web::Path<ContactId>,
) -> Result<HttpResponse, ApiError> {
    trash::restore(&state, &actor.0, *id, crm_contacts::restore_contact).await
}
