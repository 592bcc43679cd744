//! The responses every operation shares, added to the generated document in one place: what a
//! client can get from any request (400 for a malformed path, query or head, 503 while the
//! database is away), from a protected one (401, 403), from one on a record's path (404), with
//! `If-Match` (412), with a JSON body (413, 415) or a query string (414); every response gets a
//! description (OpenAPI requires one); `If-Match` headers get the pattern the server accepts.
//! The annotations on the handlers document what is particular to each operation (a 409 or 422
//! with its codes, a 404 on a path without an id).

use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{Object, Schema, Type};
use utoipa::openapi::{Content, OpenApi, Ref, RefOr, Response};

use crate::problem::PROBLEM_JSON;

/// What `If-Match` may hold: `*`, or the (optionally weak) ETag of a version.
pub const IF_MATCH_PATTERN: &str = r#"^(\*|(W/)?"[0-9]+")$"#;

/// Adds the shared responses and descriptions to every operation of `api`.
pub fn complete(api: &mut OpenApi) {
    for (path, item) in api.paths.paths.iter_mut() {
        let ops = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.patch,
            &mut item.delete,
        ];
        for op in ops.into_iter().flatten() {
            complete_operation(path, op);
        }
    }
}

fn complete_operation(path: &str, op: &mut Operation) {
    let secured = op.security.as_ref().is_some_and(|s| !s.is_empty());
    let has_body = op.request_body.is_some();
    let mut has_query = false;
    for param in op.parameters.iter_mut().flatten() {
        let RefOr::T(param) = param else { continue };
        has_query |= matches!(param.parameter_in, ParameterIn::Query);
        if matches!(param.parameter_in, ParameterIn::Header)
            && param.name.eq_ignore_ascii_case("if-match")
        {
            let mut schema = Object::with_type(Type::String);
            schema.pattern = Some(IF_MATCH_PATTERN.to_owned());
            param.schema = Some(RefOr::T(Schema::Object(schema)));
        }
    }
    let responses = &mut op.responses.responses;
    let mut has_if_match = false;
    for param in op.parameters.iter().flatten() {
        if let RefOr::T(param) = param {
            has_if_match |= matches!(param.parameter_in, ParameterIn::Header)
                && param.name.eq_ignore_ascii_case("if-match");
        }
    }
    let mut shared = vec!["400"];
    if secured {
        // Any credential may lack the operation's permission.
        shared.extend(["401", "403"]);
    }
    if path.contains('{') {
        shared.push("404");
    }
    if has_if_match {
        shared.push("412");
    }
    if has_body {
        shared.extend(["413", "415"]);
    }
    if has_query {
        shared.push("414");
    }
    // Liveness answers without the database; everything else can meet it down.
    if path != "/api/health" {
        shared.push("503");
    }
    for code in shared {
        responses
            .entry(code.to_owned())
            .or_insert_with(|| RefOr::T(problem(code)));
    }
    for (code, response) in responses.iter_mut() {
        if let RefOr::T(response) = response
            && response.description.is_empty()
        {
            response.description = describe(code).to_owned();
        }
    }
}

fn problem(code: &str) -> Response {
    let mut response = Response::new(describe(code));
    response.content.insert(
        PROBLEM_JSON.to_owned(),
        RefOr::T(Content::new(Some(Ref::from_schema_name("Problem")))),
    );
    response
}

/// The description of a status when the annotation gives none.
fn describe(code: &str) -> &'static str {
    match code {
        "101" => "Switching to the WebSocket protocol",
        "200" => "OK",
        "201" => "Created",
        "202" => "Accepted",
        "204" => "No content",
        "400" => {
            "Malformed or invalid request: body, path, query string or head (`errors` names the \
             fields)"
        }
        "401" => "No, invalid or expired credential",
        "403" => "Authenticated but not allowed",
        "404" => "No such record, or not visible to the caller",
        "405" => "Method not allowed (`Allow` lists the methods)",
        "409" => "Conflicts with the current state",
        "412" => "`If-Match` names another version",
        "413" => "Body too large",
        "414" => "Query string too long",
        "415" => "Body is not JSON",
        "422" => "Refers to something missing or unfitting",
        "429" => "Too many attempts; see `Retry-After`",
        "503" => "The database is unavailable, or the server is busy; see `Retry-After`",
        _ => "See the problem's `code`",
    }
}
