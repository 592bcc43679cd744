//! The names an export writes for linked records (a company's name, a contact's e-mail and
//! phone, a deal's number, a user's e-mail, a pipeline's and a stage's name), looked up once per
//! chunk of rows. A linked record the actor may not read is left blank, as its own export would
//! leave it out.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};

use crm_core::{Actor, CompanyId, ContactId, DealId, PipelineId, StageId, UserId};
use crm_db::AsyncPgConnection;
use crm_db::schema::{companies, contacts, deals, pipelines, stages, users};
use crm_db::visibility;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

/// The linked records a chunk names.
#[derive(Debug, Default)]
pub struct Wanted {
    pub companies: HashSet<CompanyId>,
    pub contacts: HashSet<ContactId>,
    pub deals: HashSet<DealId>,
    pub users: HashSet<UserId>,
    pub pipelines: HashSet<PipelineId>,
    pub stages: HashSet<StageId>,
}

/// What the linked records are called.
#[derive(Debug, Default)]
pub struct Names {
    companies: HashMap<CompanyId, String>,
    contacts: HashMap<ContactId, (Option<String>, Option<String>)>,
    deals: HashMap<DealId, i64>,
    users: HashMap<UserId, String>,
    pipelines: HashMap<PipelineId, String>,
    stages: HashMap<StageId, String>,
}

fn borrowed(name: Option<&String>) -> Cow<'_, str> {
    Cow::Borrowed(name.map_or("", String::as_str))
}

fn listed<T: Copy + Ord>(ids: &HashSet<T>) -> Vec<T> {
    let mut ids: Vec<T> = ids.iter().copied().collect();
    ids.sort_unstable();
    ids
}

impl Names {
    /// Looks up what `wanted` names, one statement per kind of record named.
    pub async fn load(
        conn: &mut AsyncPgConnection,
        actor: &Actor,
        wanted: &Wanted,
    ) -> QueryResult<Self> {
        let mut names = Names::default();
        if !wanted.companies.is_empty() {
            let found: Vec<(CompanyId, String)> = companies::table
                .filter(companies::id.eq_any(listed(&wanted.companies)))
                .filter(visibility::companies(actor))
                .select((companies::id, companies::name))
                .load(conn)
                .await?;
            names.companies = found.into_iter().collect();
        }
        if !wanted.contacts.is_empty() {
            let found: Vec<(ContactId, Option<String>, Option<String>)> = contacts::table
                .filter(contacts::id.eq_any(listed(&wanted.contacts)))
                .filter(visibility::contacts(actor))
                .select((contacts::id, contacts::email, contacts::phone))
                .load(conn)
                .await?;
            names.contacts = found.into_iter().map(|(id, e, p)| (id, (e, p))).collect();
        }
        if !wanted.deals.is_empty() {
            let found: Vec<(DealId, i64)> = deals::table
                .filter(deals::id.eq_any(listed(&wanted.deals)))
                .filter(visibility::deals(actor))
                .select((deals::id, deals::number))
                .load(conn)
                .await?;
            names.deals = found.into_iter().collect();
        }
        if !wanted.users.is_empty() {
            let found: Vec<(UserId, String)> = users::table
                .filter(users::id.eq_any(listed(&wanted.users)))
                .select((users::id, users::email))
                .load(conn)
                .await?;
            names.users = found.into_iter().collect();
        }
        if !wanted.pipelines.is_empty() {
            let found: Vec<(PipelineId, String)> = pipelines::table
                .filter(pipelines::id.eq_any(listed(&wanted.pipelines)))
                .select((pipelines::id, pipelines::name))
                .load(conn)
                .await?;
            names.pipelines = found.into_iter().collect();
        }
        if !wanted.stages.is_empty() {
            let found: Vec<(StageId, String)> = stages::table
                .filter(stages::id.eq_any(listed(&wanted.stages)))
                .select((stages::id, stages::name))
                .load(conn)
                .await?;
            names.stages = found.into_iter().collect();
        }
        Ok(names)
    }

    pub fn company(&self, id: Option<CompanyId>) -> Cow<'_, str> {
        borrowed(id.and_then(|id| self.companies.get(&id)))
    }

    /// A contact's e-mail and phone.
    pub fn contact(&self, id: Option<ContactId>) -> (Cow<'_, str>, Cow<'_, str>) {
        match id.and_then(|id| self.contacts.get(&id)) {
            Some((email, phone)) => (borrowed(email.as_ref()), borrowed(phone.as_ref())),
            None => (Cow::Borrowed(""), Cow::Borrowed("")),
        }
    }

    pub fn deal_number(&self, id: Option<DealId>) -> Cow<'_, str> {
        Cow::Owned(
            id.and_then(|id| self.deals.get(&id))
                .map(i64::to_string)
                .unwrap_or_default(),
        )
    }

    pub fn user(&self, id: Option<UserId>) -> Cow<'_, str> {
        borrowed(id.and_then(|id| self.users.get(&id)))
    }

    pub fn pipeline(&self, id: PipelineId) -> Cow<'_, str> {
        borrowed(self.pipelines.get(&id))
    }

    pub fn stage(&self, id: StageId) -> Cow<'_, str> {
        borrowed(self.stages.get(&id))
    }
}
