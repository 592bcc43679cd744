//! The query of a list endpoint. The parameters lists share — `page`, `limit`, `sort`,
//! `cursor`, `updatedSince`, `deleted` — are parsed, validated and documented here once: each
//! list says which of them it takes ([`ListSpec`]) and declares only its own filters. Record
//! lists also take custom field filters: `cf.<key>[.<op>]=value` parameters are split off
//! before the rest is parsed (which still refuses unknown parameters), and the record type's
//! definitions are loaded only when the request filters or sorts by custom fields.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload};
use chrono::{DateTime, Utc};
use crm_core::paging::MAX_LIMIT;
use crm_core::{Cursor, FieldError, PageRequest, SortDirection, SortSpec};
use crm_custom_fields::{
    CfQuery, CustomFieldEntity, FieldSet, parse_filters, parse_sort, sort_names_custom_fields,
    split_params,
};
use crm_db::AsyncPgConnection;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use utoipa::IntoParams;
use utoipa::openapi::Required;
use utoipa::openapi::path::{Parameter, ParameterIn};

use crate::problem::ApiError;

/// Which of the shared parameters a list takes, and what its documentation says where lists
/// differ.
#[derive(Debug, Clone, Copy)]
pub struct ListSpec {
    /// `page`; a keyset-only list leaves it out.
    pub page: bool,
    /// Why `limit` defaults to 100 instead of 50: a list a client wants whole.
    pub whole: Option<&'static str>,
    /// The description of `sort` (its fields and default); `None`: the list takes no `sort`.
    pub sort: Option<&'static str>,
    /// `cursor`: keyset paging.
    pub cursor: bool,
    /// `updatedSince` and `deleted` (the trash).
    pub trash: bool,
    /// The record type whose `cf.` parameters the list takes.
    pub custom_fields: Option<CustomFieldEntity>,
}

impl ListSpec {
    /// `page` and `limit` only.
    pub const PAGED: Self = Self {
        page: true,
        whole: None,
        sort: None,
        cursor: false,
        trash: false,
        custom_fields: None,
    };

    /// `page` and `limit`, defaulting to 100 for the reason given: a list a client wants whole.
    pub const fn whole(why: &'static str) -> Self {
        Self {
            whole: Some(why),
            ..Self::PAGED
        }
    }

    /// `page`, `limit` and `sort`, described by `sort`.
    pub const fn sorted(sort: &'static str) -> Self {
        Self {
            sort: Some(sort),
            ..Self::PAGED
        }
    }

    /// A list of records with a trash and custom fields of `entity`: every shared parameter.
    pub const fn records(entity: CustomFieldEntity, sort: &'static str) -> Self {
        Self {
            cursor: true,
            trash: true,
            custom_fields: Some(entity),
            ..Self::sorted(sort)
        }
    }

    fn takes(&self, name: &str) -> bool {
        match name {
            "page" => self.page,
            "limit" => true,
            "sort" => self.sort.is_some(),
            "cursor" => self.cursor,
            "updatedSince" | "deleted" => self.trash,
            _ => false,
        }
    }
}

/// A list's own parameters (its filters), parsed strictly: give the struct
/// `#[serde(deny_unknown_fields)]`, since parameters neither it nor [`ListSpec`] takes must be
/// refused.
pub trait ListFilters: DeserializeOwned + IntoParams {
    /// The shared parameters the list takes.
    const SPEC: ListSpec;
}

/// The shared parameters as given. The doc comments are their OpenAPI descriptions, except
/// where lists differ: `sort`, a whole list's `limit`, and `cursor` next to `sort`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct Shared {
    /// Page number, from 1.
    #[param(minimum = 1)]
    page: Option<i64>,
    /// Page size, 1–100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    limit: Option<i64>,
    /// Comma list of fields; `-` for descending.
    sort: Option<String>,
    /// Keyset paging: empty for the first page, then `meta.nextCursor`.
    cursor: Option<String>,
    /// Only records changed at or after this time (RFC 3339).
    updated_since: Option<DateTime<Utc>>,
    /// `true`: list the trash instead.
    deleted: Option<bool>,
}

impl Shared {
    fn validate(self, spec: &ListSpec) -> Result<ListParams, ApiError> {
        let invalid = |e: FieldError| ApiError::invalid(vec![e]);
        let limit = match spec.whole {
            Some(_) => Some(self.limit.unwrap_or(MAX_LIMIT)),
            None => self.limit,
        };
        let page = PageRequest::new(self.page, limit).map_err(invalid)?;
        // Even an empty `cursor` (the first page) switches to keyset paging, which is ordered
        // by `createdAt` and so cannot honour `sort`.
        let cursor = match self.cursor.as_deref().map(str::trim) {
            None => None,
            Some(_) if self.sort.is_some() => {
                return Err(invalid(FieldError::new(
                    "sort",
                    "cannot be combined with cursor: cursor pages are ordered by createdAt",
                )));
            }
            Some("") => Some(None),
            Some(raw) => Some(Some(Cursor::decode(raw).map_err(invalid)?)),
        };
        Ok(ListParams {
            page,
            sort: self.sort,
            cursor,
            updated_since: self.updated_since,
            deleted: self.deleted.unwrap_or(false),
        })
    }
}

/// The shared parameters, validated; those a list does not take have their defaults.
#[derive(Debug, Clone)]
pub struct ListParams {
    /// `page` and `limit` (the limit also bounds a keyset page).
    pub page: PageRequest,
    /// `sort` as given, for [`ListQuery::sort`] or [`ListQuery::sort_and_filters`].
    pub sort: Option<String>,
    /// `Some`: keyset paging, after this cursor (`None`: the first page).
    pub cursor: Option<Option<Cursor>>,
    /// `updatedSince`.
    pub updated_since: Option<DateTime<Utc>>,
    /// `deleted=true`: the trash.
    pub deleted: bool,
}

/// The query of a list endpoint: its own filters `F`, the shared parameters and the `cf.` ones.
#[derive(Debug)]
pub struct ListQuery<F> {
    /// The list's own parameters.
    pub filters: F,
    /// The shared parameters.
    pub list: ListParams,
    /// `cf.` parameters in the order given, e.g. `("cf.score.gte", "10")`.
    pub cf: Vec<(String, String)>,
}

fn invalid_query(e: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request("invalid_query", e.to_string())
}

fn from_pairs<T: DeserializeOwned>(pairs: &[(String, String)]) -> Result<T, ApiError> {
    let encoded = serde_urlencoded::to_string(pairs).map_err(invalid_query)?;
    serde_urlencoded::from_str(&encoded).map_err(invalid_query)
}

impl<F: ListFilters> ListQuery<F> {
    /// Parses a raw query string.
    pub fn parse(query: &str) -> Result<Self, ApiError> {
        let spec = F::SPEC;
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(query).map_err(invalid_query)?;
        let (cf, rest) = match spec.custom_fields {
            Some(_) => split_params(pairs),
            None => (Vec::new(), pairs),
        };
        let (shared, own): (Vec<_>, Vec<_>) = rest.into_iter().partition(|(k, _)| spec.takes(k));
        let filters = from_pairs(&own)?;
        let list = from_pairs::<Shared>(&shared)?.validate(&spec)?;
        Ok(Self { filters, list, cf })
    }

    /// `sort` against the list's own fields, `default` (ascending) when absent.
    pub fn sort<S: Copy + PartialEq>(
        &self,
        allowed: &[(&str, S)],
        default: S,
    ) -> Result<SortSpec<S>, ApiError> {
        SortSpec::parse(
            self.list.sort.as_deref(),
            allowed,
            vec![(default, SortDirection::Asc)],
        )
        .map_err(|e| ApiError::invalid(vec![e]))
    }

    /// `sort`, which may name custom fields (`custom` makes their sort keys), and the `cf.`
    /// filters, against the record type's definitions, which are read only when needed.
    pub async fn sort_and_filters<S: Copy + PartialEq>(
        &self,
        conn: &mut AsyncPgConnection,
        allowed: &[(&str, S)],
        default: S,
        custom: fn(usize) -> S,
    ) -> Result<(SortSpec<S>, CfQuery), ApiError> {
        let invalid = |e: FieldError| ApiError::invalid(vec![e]);
        let sort = self.list.sort.as_deref();
        let fields = match F::SPEC.custom_fields {
            Some(entity) if !self.cf.is_empty() || sort_names_custom_fields(sort) => {
                Some(FieldSet::for_read(conn, entity).await?)
            }
            _ => None,
        };
        let mut cf = CfQuery::default();
        if let Some(fields) = &fields {
            cf.filters = parse_filters(fields, &self.cf).map_err(invalid)?;
        }
        let sort = parse_sort(
            sort,
            allowed,
            vec![(default, SortDirection::Asc)],
            fields.as_ref(),
            custom,
            &mut cf,
        )
        .map_err(invalid)?;
        Ok((sort, cf))
    }
}

impl<F: ListFilters> FromRequest for ListQuery<F> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::parse(req.query_string()))
    }
}

/// The list's required parameters first (what it lists), then the shared ones, then its
/// filters.
impl<F: ListFilters> IntoParams for ListQuery<F> {
    fn into_params(parameter_in_provider: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        let spec = F::SPEC;
        let shared = Shared::into_params(|| Some(ParameterIn::Query))
            .into_iter()
            .filter(|p| spec.takes(&p.name))
            .map(|mut p| {
                match (p.name.as_str(), spec.whole, spec.sort) {
                    ("limit", Some(why), _) => {
                        p.description = Some(format!("Page size, 1–100 (default 100: {why})."));
                    }
                    ("sort", _, Some(sort)) if spec.cursor => {
                        p.description = Some(format!("{sort} Not with `cursor`."));
                    }
                    ("sort", _, Some(sort)) => p.description = Some(sort.to_owned()),
                    ("cursor", _, Some(_)) => {
                        p.description = Some(
                            "Keyset paging on `(createdAt, id)`: empty for the first page, then \
                             `meta.nextCursor`. Not with `sort`."
                                .to_owned(),
                        );
                    }
                    _ => {}
                }
                p
            });
        let (required, filters): (Vec<_>, Vec<_>) = F::into_params(parameter_in_provider)
            .into_iter()
            .partition(|p| matches!(p.required, Required::True));
        required.into_iter().chain(shared).chain(filters).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, IntoParams)]
    #[serde(deny_unknown_fields)]
    struct Q {
        q: Option<String>,
        #[serde(rename = "contact.email")]
        email: Option<String>,
    }

    impl ListFilters for Q {
        const SPEC: ListSpec = ListSpec::records(CustomFieldEntity::Deal, "By `title`.");
    }

    #[derive(Debug, serde::Deserialize, IntoParams)]
    #[serde(deny_unknown_fields)]
    struct Paged {
        q: Option<String>,
    }

    impl ListFilters for Paged {
        const SPEC: ListSpec = ListSpec::whole("few enough");
    }

    #[test]
    fn cf_and_shared_parameters_are_split_off_and_the_rest_stays_strict() {
        let q = ListQuery::<Q>::parse(
            "limit=5&cf.tier=gold&cf.score.gte=1.5&contact.email=a%40b.c&cf.tier=x%20y&deleted=true&q=x",
        )
        .unwrap();
        assert_eq!(q.list.page.limit, 5);
        assert_eq!(q.filters.q.as_deref(), Some("x"));
        assert!(q.list.deleted);
        assert_eq!(q.filters.email.as_deref(), Some("a@b.c"));
        assert_eq!(
            q.cf,
            [
                ("cf.tier".to_owned(), "gold".to_owned()),
                ("cf.score.gte".to_owned(), "1.5".to_owned()),
                ("cf.tier".to_owned(), "x y".to_owned()),
            ]
        );
        let e = ListQuery::<Q>::parse("limit=5&cfx=1").unwrap_err();
        assert_eq!(e.code(), "invalid_query");
        assert!(ListQuery::<Q>::parse("limit=abc").is_err());
        assert!(ListQuery::<Q>::parse("page=1&page=2").is_err());
    }

    #[test]
    fn shared_parameters_a_list_does_not_take_are_unknown() {
        for query in ["deleted=true", "sort=name", "cursor=", "cf.tier=gold"] {
            let e = ListQuery::<Paged>::parse(query).unwrap_err();
            assert_eq!(e.code(), "invalid_query", "{query}");
        }
        let q = ListQuery::<Paged>::parse("q=a").unwrap();
        assert_eq!(q.filters.q.as_deref(), Some("a"));
        assert_eq!(q.list.page.limit, MAX_LIMIT);
        assert!(q.list.cursor.is_none());
    }

    #[test]
    fn cursor_switches_to_keyset_paging_and_refuses_sort() {
        let q = ListQuery::<Q>::parse("cursor=").unwrap();
        assert!(matches!(q.list.cursor, Some(None)));
        let e = ListQuery::<Q>::parse("cursor=&sort=title").unwrap_err();
        assert_eq!(e.code(), "validation_failed");
        let e = ListQuery::<Q>::parse("cursor=garbage").unwrap_err();
        assert_eq!(e.code(), "validation_failed");
        let e = ListQuery::<Q>::parse("limit=101").unwrap_err();
        assert_eq!(e.code(), "validation_failed");
    }

    #[test]
    fn the_document_lists_required_then_shared_then_filter_parameters() {
        let names = |params: Vec<Parameter>| -> Vec<String> {
            params.into_iter().map(|p| p.name).collect()
        };
        assert_eq!(
            names(ListQuery::<Q>::into_params(|| Some(ParameterIn::Query))),
            [
                "page",
                "limit",
                "sort",
                "cursor",
                "updatedSince",
                "deleted",
                "q",
                "contact.email",
            ]
        );
        let paged = ListQuery::<Paged>::into_params(|| Some(ParameterIn::Query));
        assert_eq!(
            paged[1].description.as_deref(),
            Some("Page size, 1–100 (default 100: few enough).")
        );
        assert_eq!(names(paged), ["page", "limit", "q"]);
    }
}
