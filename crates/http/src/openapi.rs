//! The OpenAPI 3.1 document (paths are collected from the registered handlers) and the route
//! table derived from it, which tells a wrong method (405) from an unknown path (404).

use utoipa::Modify;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::problem::Problem;

/// Document metadata and shared components; `build_server` adds the paths.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "CRM API",
        description = "Contacts, companies, deals, tasks and more. Success bodies are `{\"data\": ...}` \
                       (lists add `meta`); every error is RFC 9457 `application/problem+json` with a \
                       stable `code`. Authenticate with `Authorization: Bearer <access token or API key>`.",
    ),
    modifiers(&BearerAuth),
    tags(
        (name = "health", description = "Liveness and readiness"),
        (name = "auth", description = "Login, token refresh, logout, own profile and password"),
        (name = "users", description = "User administration, roles and permission overrides"),
        (name = "api-keys", description = "Keys for other services"),
        (name = "activity", description = "Field-level change history of every record"),
        (name = "pipelines", description = "Pipelines, their stages, stage order and deal summaries"),
        (name = "companies", description = "Companies: CRUD, trash, batch"),
        (name = "contacts", description = "Contacts: CRUD, trash, batch, company links"),
        (name = "deals", description = "Deals on pipeline stages, their order inside a stage, trash and batch"),
        (name = "tasks", description = "Tasks: status, priority, due dates, trash and restore"),
        (name = "comments", description = "Comments and internal notes on deals, contacts and tasks"),
        (name = "tags", description = "The tag registry: colours, usage counts, rename, merge, delete"),
        (name = "custom-fields", description = "Typed custom fields of contacts, companies, deals and tasks: definitions, order, conversions"),
        (name = "realtime", description = "Live updates over a WebSocket: rooms, events, resume from `seq`"),
    ),
    components(schemas(Problem, crm_core::FieldError, crm_core::Permission, crm_core::Role))
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT access token or crm_ API key")
                    .build(),
            ),
        );
    }
}

/// Path templates and their methods, for 405 answers.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<(Vec<String>, Vec<&'static str>)>,
}

impl RouteTable {
    /// Reads every path and method of the document.
    pub fn from_openapi(api: &utoipa::openapi::OpenApi) -> Self {
        let routes = api
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = [
                    ("GET", item.get.is_some()),
                    ("POST", item.post.is_some()),
                    ("PUT", item.put.is_some()),
                    ("PATCH", item.patch.is_some()),
                    ("DELETE", item.delete.is_some()),
                ]
                .into_iter()
                .filter_map(|(m, present)| present.then_some(m))
                .collect();
                (segments(path), methods)
            })
            .collect();
        Self { routes }
    }

    /// The methods a path allows (`GET, PATCH`), or `None` when no route has this path.
    pub fn allowed_methods(&self, path: &str) -> Option<String> {
        let wanted = segments(path);
        let mut methods: Vec<&str> = self
            .routes
            .iter()
            .filter(|(template, _)| {
                template.len() == wanted.len()
                    && template
                        .iter()
                        .zip(&wanted)
                        .all(|(t, w)| (t.starts_with('{') && !w.is_empty()) || t == w)
            })
            .flat_map(|(_, m)| m.iter().copied())
            .collect();
        methods.sort_unstable();
        methods.dedup();
        (!methods.is_empty()).then(|| methods.join(", "))
    }
}

fn segments(path: &str) -> Vec<String> {
    path.trim_end_matches('/')
        .split('/')
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_match_concrete_paths() {
        let mut api = ApiDoc::openapi();
        let op = utoipa::openapi::path::OperationBuilder::new().build();
        let item = |m| utoipa::openapi::PathItem::new(m, op.clone());
        use utoipa::openapi::HttpMethod;
        api.paths
            .paths
            .insert("/api/users/{id}".into(), item(HttpMethod::Get));
        api.paths.paths.get_mut("/api/users/{id}").unwrap().delete = Some(op.clone());
        api.paths
            .paths
            .insert("/api/users".into(), item(HttpMethod::Post));
        let table = RouteTable::from_openapi(&api);
        assert_eq!(
            table.allowed_methods("/api/users/123").as_deref(),
            Some("DELETE, GET")
        );
        assert_eq!(
            table.allowed_methods("/api/users/").as_deref(),
            Some("POST")
        );
        assert_eq!(table.allowed_methods("/api/nothing"), None);
        assert_eq!(table.allowed_methods("/api/users/1/2"), None);
    }
}
