//! List query strings with custom field filters: `cf.<key>[.<op>]=value` parameters are split
//! off before the resource's own parameters are parsed (which still refuses unknown ones), and
//! the record type's definitions are loaded only when the request filters or sorts by custom
//! fields.

use std::future::{Ready, ready};

use actix_web::{FromRequest, HttpRequest, dev::Payload};
use crm_custom_fields::{CustomFieldEntity, FieldSet, sort_names_custom_fields, split_params};
use crm_db::AsyncPgConnection;
use serde::de::DeserializeOwned;

use crate::problem::ApiError;

/// The query of a list endpoint: its own parameters `T` and the `cf.` ones.
#[derive(Debug)]
pub struct ListQuery<T> {
    /// The resource's parameters.
    pub params: T,
    /// `cf.` parameters in the order given, e.g. `("cf.score.gte", "10")`.
    pub cf: Vec<(String, String)>,
}

impl<T: DeserializeOwned> ListQuery<T> {
    /// Parses a raw query string.
    pub fn parse(query: &str) -> Result<Self, ApiError> {
        let invalid =
            |e: &dyn std::fmt::Display| ApiError::bad_request("invalid_query", e.to_string());
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(query).map_err(|e| invalid(&e))?;
        let (cf, rest) = split_params(pairs);
        let rest = serde_urlencoded::to_string(&rest).map_err(|e| invalid(&e))?;
        let params = serde_urlencoded::from_str(&rest).map_err(|e| invalid(&e))?;
        Ok(Self { params, cf })
    }

    /// The definitions of `entity` when the request filters by custom fields or `sort` names
    /// one; `None` otherwise (no query spent).
    pub async fn fields(
        &self,
        conn: &mut AsyncPgConnection,
        entity: CustomFieldEntity,
        sort: Option<&str>,
    ) -> Result<Option<FieldSet>, ApiError> {
        if self.cf.is_empty() && !sort_names_custom_fields(sort) {
            return Ok(None);
        }
        Ok(Some(FieldSet::for_read(conn, entity).await?))
    }
}

impl<T: DeserializeOwned> FromRequest for ListQuery<T> {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(Self::parse(req.query_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Q {
        limit: Option<i64>,
        #[serde(rename = "contact.email")]
        email: Option<String>,
    }

    #[test]
    fn cf_parameters_are_split_off_and_the_rest_stays_strict() {
        let q = ListQuery::<Q>::parse(
            "limit=5&cf.tier=gold&cf.score.gte=1.5&contact.email=a%40b.c&cf.tier=x%20y",
        )
        .unwrap();
        assert_eq!(q.params.limit, Some(5));
        assert_eq!(q.params.email.as_deref(), Some("a@b.c"));
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
    }
}
