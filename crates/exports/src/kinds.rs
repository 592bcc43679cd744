//! What differs between exports of contacts, companies, deals and tasks: where the rows come
//! from (the record crate's own list query), the columns, and the linked records named.

use std::future::Future;

use crm_custom_fields::{CustomField, CustomFieldEntity};
use crm_db::AsyncPgConnection;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};

use crate::columns::{self, Cell};
use crate::error::ExportError;
use crate::lookup::{Names, Wanted};

/// A record type that can be exported.
pub trait Kind {
    /// The record as its crate returns it.
    type Record: Send + 'static;
    /// The list's parameters.
    type Input: Send + Sync;
    /// Whose custom fields are columns.
    const ENTITY: CustomFieldEntity;
    /// The file's name without extension.
    const NAME: &'static str;

    /// The header row.
    fn headers(custom: &[CustomField]) -> Vec<String>;
    /// Every record the list shows, in its order, streamed from `conn`.
    fn rows<'c>(
        conn: &'c mut AsyncPgConnection,
        actor: &crm_core::Actor,
        input: &Self::Input,
    ) -> impl Future<Output = Result<Rows<'c, Self::Record>, ExportError>> + Send;
    /// Adds the linked records the record names.
    fn wanted(record: &Self::Record, wanted: &mut Wanted);
    /// The record's cells, in the order of the headers.
    fn cells<'a>(
        record: &'a Self::Record,
        names: &'a Names,
        custom: &[CustomField],
    ) -> Vec<Cell<'a>>;
}

/// A stream of records read from an export's own connection.
pub type Rows<'c, T> = BoxStream<'c, Result<T, ExportError>>;

/// Contacts (`GET /api/contacts`).
pub struct Contacts;
/// Companies (`GET /api/companies`).
pub struct Companies;
/// Deals (`GET /api/deals`).
pub struct Deals;
/// Tasks (`GET /api/tasks`).
pub struct Tasks;

impl Kind for Contacts {
    type Record = crm_contacts::Contact;
    type Input = crm_contacts::ListContacts;
    const ENTITY: CustomFieldEntity = CustomFieldEntity::Contact;
    const NAME: &'static str = "contacts";

    fn headers(custom: &[CustomField]) -> Vec<String> {
        columns::contact_headers(custom)
    }

    async fn rows<'c>(
        conn: &'c mut AsyncPgConnection,
        actor: &crm_core::Actor,
        input: &Self::Input,
    ) -> Result<Rows<'c, Self::Record>, ExportError> {
        let rows = crm_contacts::export::export_contacts(conn, actor, input).await?;
        Ok(rows.map_err(ExportError::from).boxed())
    }

    fn wanted(c: &Self::Record, wanted: &mut Wanted) {
        wanted.companies.extend(c.company_id);
        wanted.users.extend(c.owner_id);
    }

    fn cells<'a>(c: &'a Self::Record, names: &'a Names, custom: &[CustomField]) -> Vec<Cell<'a>> {
        columns::contact_cells(c, names, custom)
    }
}

impl Kind for Companies {
    type Record = crm_companies::Company;
    type Input = crm_companies::ListCompanies;
    const ENTITY: CustomFieldEntity = CustomFieldEntity::Company;
    const NAME: &'static str = "companies";

    fn headers(custom: &[CustomField]) -> Vec<String> {
        columns::company_headers(custom)
    }

    async fn rows<'c>(
        conn: &'c mut AsyncPgConnection,
        actor: &crm_core::Actor,
        input: &Self::Input,
    ) -> Result<Rows<'c, Self::Record>, ExportError> {
        let rows = crm_companies::export::export_companies(conn, actor, input).await?;
        Ok(rows.map_err(ExportError::from).boxed())
    }

    fn wanted(c: &Self::Record, wanted: &mut Wanted) {
        wanted.users.extend(c.owner_id);
    }

    fn cells<'a>(c: &'a Self::Record, names: &'a Names, custom: &[CustomField]) -> Vec<Cell<'a>> {
        columns::company_cells(c, names, custom)
    }
}

impl Kind for Deals {
    type Record = crm_deals::Deal;
    type Input = crm_deals::ListDeals;
    const ENTITY: CustomFieldEntity = CustomFieldEntity::Deal;
    const NAME: &'static str = "deals";

    fn headers(custom: &[CustomField]) -> Vec<String> {
        columns::deal_headers(custom)
    }

    async fn rows<'c>(
        conn: &'c mut AsyncPgConnection,
        actor: &crm_core::Actor,
        input: &Self::Input,
    ) -> Result<Rows<'c, Self::Record>, ExportError> {
        let rows = crm_deals::export::export_deals(conn, actor, input).await?;
        Ok(rows.map_err(ExportError::from).boxed())
    }

    fn wanted(d: &Self::Record, wanted: &mut Wanted) {
        wanted.pipelines.insert(d.pipeline_id);
        wanted.stages.insert(d.stage_id);
        wanted.contacts.extend(d.contact_id);
        wanted.companies.extend(d.company_id);
        wanted.users.extend(d.assigned_to_id);
    }

    fn cells<'a>(d: &'a Self::Record, names: &'a Names, custom: &[CustomField]) -> Vec<Cell<'a>> {
        columns::deal_cells(d, names, custom)
    }
}

impl Kind for Tasks {
    type Record = crm_tasks::Task;
    type Input = crm_tasks::ListTasks;
    const ENTITY: CustomFieldEntity = CustomFieldEntity::Task;
    const NAME: &'static str = "tasks";

    fn headers(custom: &[CustomField]) -> Vec<String> {
        columns::task_headers(custom)
    }

    async fn rows<'c>(
        conn: &'c mut AsyncPgConnection,
        actor: &crm_core::Actor,
        input: &Self::Input,
    ) -> Result<Rows<'c, Self::Record>, ExportError> {
        let rows = crm_tasks::export::export_tasks(conn, actor, input).await?;
        Ok(rows.map_err(ExportError::from).boxed())
    }

    fn wanted(t: &Self::Record, wanted: &mut Wanted) {
        wanted.deals.extend(t.deal_id);
        wanted.contacts.extend(t.contact_id);
        wanted.users.extend(t.assigned_to_id);
    }

    fn cells<'a>(t: &'a Self::Record, names: &'a Names, custom: &[CustomField]) -> Vec<Cell<'a>> {
        columns::task_cells(t, names, custom)
    }
}
