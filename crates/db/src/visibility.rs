//! Who may read which record: one rule per record kind, written once and used by lists, counts,
//! sums, single reads, links between records and the activity feed alike.
//!
//! - Deals and tasks: everything with `deals.read_all` / `tasks.read_all`, otherwise the ones
//!   the actor created or is assigned to.
//! - Contacts and companies: everything with `contacts.read_all` / `companies.read_all`,
//!   otherwise the ones the actor owns.
//!
//! An API key without the `read_all` permission sees none (it is nobody's owner). The predicates
//! do not look at the trash: callers say whether they want trashed records.

use crm_core::{Actor, Permission, UserId};
use diesel::dsl::sql;
use diesel::expression::BoxableExpression;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Nullable};

use crate::schema::{activity, companies, contacts, deals, tasks};

/// How much of one kind of record an actor may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Every record.
    All,
    /// The records tied to this user (created, assigned or owned, by kind).
    Own(UserId),
    /// None.
    Nothing,
}

impl Reach {
    /// The reach an actor has with or without `read_all`.
    pub fn of(actor: &Actor, read_all: Permission) -> Self {
        if actor.can(read_all) {
            Reach::All
        } else {
            actor.user_id.map_or(Reach::Nothing, Reach::Own)
        }
    }

    /// Whether a record tied to these users (creator, assignee or owner) is within reach.
    pub fn covers(&self, tied_to: &[Option<UserId>]) -> bool {
        match self {
            Reach::All => true,
            Reach::Own(me) => tied_to.contains(&Some(*me)),
            Reach::Nothing => false,
        }
    }
}

/// A visibility condition on `table`.
pub type Visible<T> = Box<dyn BoxableExpression<T, Pg, SqlType = Nullable<Bool>>>;

fn everything<T: 'static>() -> Visible<T> {
    Box::new(sql::<Nullable<Bool>>("TRUE"))
}

fn nothing<T: 'static>() -> Visible<T> {
    Box::new(sql::<Nullable<Bool>>("FALSE"))
}

// The records a user is tied to, one rule per kind: the only place it is written.

#[diesel::dsl::auto_type]
fn own_deals(me: UserId) -> _ {
    deals::created_by_id.eq(me).or(deals::assigned_to_id.eq(me))
}

#[diesel::dsl::auto_type]
fn own_tasks(me: UserId) -> _ {
    tasks::created_by_id.eq(me).or(tasks::assigned_to_id.eq(me))
}

#[diesel::dsl::auto_type]
fn own_contacts(me: UserId) -> _ {
    contacts::owner_id.eq(me)
}

#[diesel::dsl::auto_type]
fn own_companies(me: UserId) -> _ {
    companies::owner_id.eq(me)
}

/// The deals `actor` may read.
pub fn deals(actor: &Actor) -> Visible<deals::table> {
    match Reach::of(actor, Permission::DealsReadAll) {
        Reach::All => everything(),
        Reach::Own(me) => Box::new(own_deals(me)),
        Reach::Nothing => nothing(),
    }
}

/// The tasks `actor` may read.
pub fn tasks(actor: &Actor) -> Visible<tasks::table> {
    match Reach::of(actor, Permission::TasksReadAll) {
        Reach::All => everything(),
        Reach::Own(me) => Box::new(own_tasks(me)),
        Reach::Nothing => nothing(),
    }
}

/// The contacts `actor` may read.
pub fn contacts(actor: &Actor) -> Visible<contacts::table> {
    match Reach::of(actor, Permission::ContactsReadAll) {
        Reach::All => everything(),
        Reach::Own(me) => Box::new(own_contacts(me).nullable()),
        Reach::Nothing => nothing(),
    }
}

/// The companies `actor` may read.
pub fn companies(actor: &Actor) -> Visible<companies::table> {
    match Reach::of(actor, Permission::CompaniesReadAll) {
        Reach::All => everything(),
        Reach::Own(me) => Box::new(own_companies(me).nullable()),
        Reach::Nothing => nothing(),
    }
}

/// The conditions that keep, of the activity entries, those about records `actor` may read:
/// one per record kind the actor cannot read entirely (`entity_type <> kind`, or for a user
/// `OR entity_id IN (the records tied to them)`, by the rules above). Entries about pipelines,
/// stages, users, tags and custom fields are not restricted here. Apply every one with
/// `filter`.
pub fn activity_entries(actor: &Actor) -> Vec<Visible<activity::table>> {
    let mut conditions: Vec<Visible<activity::table>> = Vec::new();
    macro_rules! restrict {
        ($kind:literal, $read_all:expr, $table:ident, $own:ident) => {
            let other_kind = activity::entity_type.ne($kind);
            match Reach::of(actor, $read_all) {
                Reach::All => {}
                Reach::Own(me) => {
                    let tied = $table::table.filter($own(me)).select($table::id);
                    let entry = other_kind.or(activity::entity_id.eq_any(tied));
                    conditions.push(Box::new(entry.nullable()));
                }
                Reach::Nothing => conditions.push(Box::new(other_kind.nullable())),
            }
        };
    }
    restrict!("deal", Permission::DealsReadAll, deals, own_deals);
    restrict!("task", Permission::TasksReadAll, tasks, own_tasks);
    restrict!(
        "contact",
        Permission::ContactsReadAll,
        contacts,
        own_contacts
    );
    restrict!(
        "company",
        Permission::CompaniesReadAll,
        companies,
        own_companies
    );
    conditions
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_core::{PermissionSet, Role, UserId};

    #[test]
    fn read_all_reaches_everything_and_others_their_own() {
        let me = UserId::new();
        let manager = Actor::user(
            me,
            Role::Manager,
            PermissionSet::effective(Role::Manager, &[], &[]),
        );
        assert_eq!(Reach::of(&manager, Permission::DealsReadAll), Reach::All);
        let limited = Actor::user(
            me,
            Role::Manager,
            PermissionSet::effective(Role::Manager, &[], &[Permission::DealsReadAll]),
        );
        let reach = Reach::of(&limited, Permission::DealsReadAll);
        assert_eq!(reach, Reach::Own(me));
        assert!(reach.covers(&[None, Some(me)]));
        assert!(!reach.covers(&[Some(UserId::new()), None]));
        assert!(!Reach::Nothing.covers(&[Some(me)]));
    }
}
