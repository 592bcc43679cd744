//! The success envelope: `{"data": T}` and `{"data": [T], "meta": {...}}`, with `ETag` and
//! `Location` where the contract asks for them.

use actix_web::HttpResponse;
use actix_web::http::header;
use crm_core::{Listing, Page};
use serde::Serialize;

/// `{"data": T}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Data<T> {
    /// The payload.
    pub data: T,
}

/// Paging figures of a list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListMeta {
    /// Page number (1-based).
    pub page: i64,
    /// Page size.
    pub limit: i64,
    /// Matching rows over all pages.
    pub total: i64,
}

/// `{"data": [T], "meta": {...}}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct List<T> {
    /// The rows of this page.
    pub data: Vec<T>,
    /// Paging figures.
    pub meta: ListMeta,
}

/// The strong `ETag` of a record version.
pub fn etag(version: i32) -> String {
    format!("\"{version}\"")
}

/// 200 `{"data": T}`.
pub fn ok<T: Serialize>(data: T) -> HttpResponse {
    HttpResponse::Ok().json(Data { data })
}

/// 200 `{"data": T}` with `ETag`.
pub fn ok_versioned<T: Serialize>(data: T, version: i32) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::ETAG, etag(version)))
        .json(Data { data })
}

/// A record whose answers carry its `version` as `ETag`.
pub trait Versioned: Serialize {
    /// The version `If-Match` is checked against.
    fn version(&self) -> i32;
}

macro_rules! impl_versioned {
    ($($record:ty),* $(,)?) => {
        $(impl Versioned for $record {
            fn version(&self) -> i32 {
                self.version
            }
        })*
    };
}

impl_versioned!(
    crm_companies::Company,
    crm_contacts::Contact,
    crm_deals::Deal,
    crm_tasks::Task,
);

/// 200 `{"data": record}` with the record's `ETag`.
pub fn versioned<T: Versioned>(record: T) -> HttpResponse {
    let version = record.version();
    ok_versioned(record, version)
}

/// 201 `{"data": T}` with `Location` and, for versioned records, `ETag`.
pub fn created<T: Serialize>(location: String, data: T, version: Option<i32>) -> HttpResponse {
    let mut res = HttpResponse::Created();
    res.insert_header((header::LOCATION, location));
    if let Some(v) = version {
        res.insert_header((header::ETAG, etag(v)));
    }
    res.json(Data { data })
}

/// 200 list with `meta`.
pub fn list<T: Serialize>(page: Page<T>) -> HttpResponse {
    HttpResponse::Ok().json(List {
        meta: ListMeta {
            page: page.page,
            limit: page.limit,
            total: page.total,
        },
        data: page.items,
    })
}

/// Paging figures of a keyset-paged list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CursorMeta {
    /// Page size.
    pub limit: i64,
    /// Pass as `cursor` for the next page; `null` on the last page.
    #[schema(required = true)]
    pub next_cursor: Option<String>,
}

/// The `meta` of a list that pages either way: by page number (`page`, `limit`, `total`) or,
/// with `cursor`, by key (`limit`, `nextCursor`).
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(untagged)]
pub enum AnyMeta {
    /// Offset paging.
    Page(ListMeta),
    /// Keyset paging (the request had `cursor`).
    Cursor(CursorMeta),
}

/// `{"data": [T], "meta": ...}` of a list that pages by page number or, with `cursor`, by key
/// (for the documentation; the answers are [`List`] or [`CursorList`]).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Paged<T> {
    /// The rows of this page.
    pub data: Vec<T>,
    /// Paging figures.
    pub meta: AnyMeta,
}

/// `{"data": [T], "meta": {"limit", "nextCursor"}}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CursorList<T> {
    /// The rows of this page.
    pub data: Vec<T>,
    /// Paging figures.
    pub meta: CursorMeta,
}

/// 200 keyset-paged list.
pub fn cursor_list<T: Serialize>(page: crm_core::CursorPage<T>) -> HttpResponse {
    HttpResponse::Ok().json(CursorList {
        data: page.items,
        meta: CursorMeta {
            limit: page.limit,
            next_cursor: page.next_cursor,
        },
    })
}

/// A list answer: offset-paged with `meta.total`, or keyset-paged with `meta.nextCursor`.
pub fn listing<T: Serialize>(listing: Listing<T>) -> HttpResponse {
    match listing {
        Listing::Page(page) => list(page),
        Listing::Cursor(page) => cursor_list(page),
    }
}
