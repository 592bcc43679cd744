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
        (name = "files", description = "Files attached to deals, contacts, companies, tasks and comments: streamed uploads, ranged downloads"),
        (name = "import-export", description = "Imports of records from CSV and XLSX files, as background jobs with per-row errors"),
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

/// Path templates, their methods and whether each needs a credential: for 405 answers, and
/// for authenticating before anything else is looked at.
#[derive(Debug, Clone, Default)]
pub struct RouteTable {
    routes: Vec<Route>,
}

#[derive(Debug, Clone)]
struct Route {
    segments: Vec<String>,
    /// Method and whether the operation declares a security requirement.
    methods: Vec<(&'static str, bool)>,
}

impl Route {
    /// How many literal segments match `path`, or `None` when the template does not match.
    /// A literal beats a parameter: `/contacts/batch` is that route, not `/contacts/{id}`.
    fn literal_matches(&self, wanted: &[String]) -> Option<usize> {
        if self.segments.len() != wanted.len() {
            return None;
        }
        let mut literals = 0;
        for (t, w) in self.segments.iter().zip(wanted) {
            if t.starts_with('{') {
                if w.is_empty() {
                    return None;
                }
            } else if t == w {
                literals += 1;
            } else {
                return None;
            }
        }
        Some(literals)
    }
}

impl RouteTable {
    /// Reads every path and method of the document.
    pub fn from_openapi(api: &utoipa::openapi::OpenApi) -> Self {
        let secured = |op: &Option<utoipa::openapi::path::Operation>| {
            op.as_ref()
                .map(|op| op.security.as_ref().is_some_and(|s| !s.is_empty()))
        };
        let routes = api
            .paths
            .paths
            .iter()
            .map(|(path, item)| {
                let methods = [
                    ("GET", secured(&item.get)),
                    ("POST", secured(&item.post)),
                    ("PUT", secured(&item.put)),
                    ("PATCH", secured(&item.patch)),
                    ("DELETE", secured(&item.delete)),
                ]
                .into_iter()
                .filter_map(|(m, secured)| secured.map(|s| (m, s)))
                .collect();
                Route {
                    segments: segments(path),
                    methods,
                }
            })
            .collect();
        Self { routes }
    }

    /// The routes `path` belongs to: the matching templates with the most literal segments.
    fn best(&self, path: &str) -> Vec<&Route> {
        let wanted = segments(path);
        let scored: Vec<(usize, &Route)> = self
            .routes
            .iter()
            .filter_map(|r| r.literal_matches(&wanted).map(|n| (n, r)))
            .collect();
        let top = scored.iter().map(|(n, _)| *n).max();
        scored
            .into_iter()
            .filter(|(n, _)| Some(*n) == top)
            .map(|(_, r)| r)
            .collect()
    }

    /// The methods a path allows (`GET, PATCH`), or `None` when no route has this path.
    pub fn allowed_methods(&self, path: &str) -> Option<String> {
        let mut methods: Vec<&str> = self
            .best(path)
            .into_iter()
            .flat_map(|r| r.methods.iter().map(|(m, _)| *m))
            .collect();
        methods.sort_unstable();
        methods.dedup();
        (!methods.is_empty()).then(|| methods.join(", "))
    }

    /// Whether `method` on `path` is an operation of the document, and if so whether it needs
    /// a credential.
    pub fn needs_credential(&self, method: &str, path: &str) -> Option<bool> {
        self.best(path)
            .into_iter()
            .flat_map(|r| r.methods.iter())
            .find(|(m, _)| *m == method)
            .map(|(_, secured)| *secured)
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

    #[test]
    fn a_literal_segment_wins_over_a_parameter() {
        let api = crate::server::openapi();
        let table = RouteTable::from_openapi(&api);
        assert_eq!(
            table.allowed_methods("/api/contacts/batch").as_deref(),
            Some("POST")
        );
        assert_eq!(
            table
                .allowed_methods("/api/contacts/0190a0c4-0000-7000-8000-000000000000")
                .as_deref(),
            Some("DELETE, GET, PATCH")
        );
        assert_eq!(
            table.needs_credential("POST", "/api/auth/login"),
            Some(false)
        );
        assert_eq!(table.needs_credential("GET", "/api/contacts/x"), Some(true));
        assert_eq!(table.needs_credential("GET", "/api/contacts/batch"), None);
    }
}
