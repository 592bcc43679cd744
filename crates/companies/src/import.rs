//! Companies named by imported rows (a contact's or a deal's `companyName`): found by name
//! case-insensitively among the live companies the actor may see, created when missing.

use std::collections::HashMap;

use crm_core::{Actor, CompanyId, Permission};
use crm_db::AsyncPgConnection;
use crm_db::schema::companies;
use crm_db::sql::lower;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::error::CompanyError;
use crate::input::CreateCompany;

/// The key a company name is matched by.
pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// The companies of `names` that exist (by [`name_key`]), as [`resolve_names`] finds them;
/// names of no company are left out (a dry run's view: it would create them).
pub async fn find_names(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    names: &[String],
) -> Result<HashMap<String, Result<CompanyId, String>>, CompanyError> {
    let (mut found, missing) = lookup(conn, actor, names).await?;
    for (key, name) in missing {
        // What the real run would refuse is refused here too.
        if let Err(why) = creatable(actor, name) {
            found.insert(key, Err(why));
        }
    }
    Ok(found)
}

/// The input that creates a company of this name, or why it would be refused.
fn creatable(actor: &Actor, name: String) -> Result<CreateCompany, String> {
    if !actor.can(Permission::CompaniesWrite) {
        return Err("no such company (creating one needs companies.write)".to_owned());
    }
    let input = CreateCompany {
        name,
        ..CreateCompany::default()
    };
    let errors = crm_core::checks::errors(&input);
    match <[crm_core::FieldError]>::first(&errors) {
        Some(e) => Err(format!("the company cannot be created: {}", e.message)),
        None => Ok(input),
    }
}

/// The company of each name (by [`name_key`]): found, created (one `create_company` each, with
/// its checks, timeline entry and default custom fields), or why not (a message for the row).
/// A name held by a company the actor may not see is refused rather than duplicated.
pub async fn resolve_names(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    names: &[String],
) -> Result<HashMap<String, Result<CompanyId, String>>, CompanyError> {
    let (mut resolved, wanted) = lookup(conn, actor, names).await?;
    for (key, name) in wanted {
        let answer = match creatable(actor, name) {
            Ok(input) => match crate::service::create_company(conn, actor, input).await {
                Ok(company) => Ok(company.id),
                Err(CompanyError::Db(e)) => return Err(CompanyError::Db(e)),
                Err(e) => Err(format!("the company cannot be created: {e}")),
            },
            Err(why) => Err(why),
        };
        resolved.insert(key, answer);
    }
    Ok(resolved)
}

type Found = HashMap<String, Result<CompanyId, String>>;

/// The companies found by name, and the names (by key) of none.
async fn lookup(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    names: &[String],
) -> Result<(Found, HashMap<String, String>), CompanyError> {
    let mut wanted: HashMap<String, String> = HashMap::new();
    for name in names {
        let name = name.trim();
        if !name.is_empty() {
            wanted
                .entry(name_key(name))
                .or_insert_with(|| name.to_owned());
        }
    }
    let keys: Vec<String> = wanted.keys().cloned().collect();
    let live = || {
        companies::table
            .filter(lower(companies::name).eq_any(keys.clone()))
            .filter(companies::deleted_at.is_null())
    };
    let found: Vec<(CompanyId, String)> = live()
        .select((companies::id, lower(companies::name)))
        .load(conn)
        .await?;
    let visible: Vec<CompanyId> = live()
        .filter(crm_db::visibility::companies(actor))
        .select(companies::id)
        .load(conn)
        .await?;
    let mut resolved = HashMap::new();
    for (id, key) in found {
        let answer = if visible.contains(&id) {
            Ok(id)
        } else {
            Err("a company of this name exists that you may not see".to_owned())
        };
        wanted.remove(&key);
        resolved.insert(key, answer);
    }
    Ok((resolved, wanted))
}
