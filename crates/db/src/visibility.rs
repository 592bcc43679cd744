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

use crm_core::{Actor, Permission};
use diesel::dsl::sql;
use diesel::expression::BoxableExpression;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::sql_types::{Bool, Nullable};
use uuid::Uuid;

use crate::schema::{activity, companies, contacts, deals, tasks};

/// How much of one kind of record an actor may read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Every record.
    All,
    /// The records tied to this user (created, assigned or owned, by kind).
    Own(Uuid),
    /// None.
    Nothing,
}

impl Reach {
    /// The reach an actor has with or without `read_all`.
    pub fn of(actor: &Actor, read_all: Permission) -> Self {
        if actor.can(read_all) {
            Reach::All
        } else {
            actor.user_id.map_or(Reach::Nothing, |u| Reach::Own(u.0))
        }
    }

    /// Whether a record tied to these users (creator, assignee or owner) is within reach.
    pub fn covers(&self, tied_to: &[Option<Uuid>]) -> bool {
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

/// The deals `actor` may read.
pub fn deals(actor: &Actor) -> Visible<deals::table> {
    match Reach::of(actor, Permission::DealsReadAll) {
        Reach::All => everything(),
        Reach::Own(me) => Box::new(deals::created_by_id.eq(me).or(deals::assigned_to_id.eq(me))),
        Reach::Nothing => nothing(),
    }
}

/// The tasks `actor` may read.
pub fn tasks(actor: &Actor) -> Visible<tasks::table> {
    match Reach::of(actor, Permission::TasksReadAll) {
        Reach::All => everything(),
        Reach::Own(me) => Box::new(tasks::created_by_id.eq(me).or(tasks::assigned_to_id.eq(me))),
        Reach::Nothing => nothing(),
    }
}

/// The contacts `actor` may read.
pub fn contacts(actor: &Actor) -> Visible<contacts::table> {
    match Reach::of(actor, Permission::ContactsReadAll) {
        Reach::All => everything(),
        Reach::Own(me) => Box::new(contacts::owner_id.eq(me)),
        Reach::Nothing => nothing(),
    }
}

/// The companies `actor` may read.
pub fn companies(actor: &Actor) -> Visible<companies::table> {
    match Reach::of(actor, Permission::CompaniesReadAll) {
        Reach::All => everything(),
        Reach::Own(me) => Box::new(companies::owner_id.eq(me)),
        Reach::Nothing => nothing(),
    }
}

/// The conditions that keep, of the activity entries, those about records `actor` may read:
/// one per record kind the actor cannot read entirely (each `entity_type <> kind OR entity_id IN
/// (the visible ones)`). Entries about pipelines, stages, users, tags and custom fields are not
/// restricted here. Apply every one with `filter`.
pub fn activity_entries(actor: &Actor) -> Vec<Visible<activity::table>> {
    let mut conditions: Vec<Visible<activity::table>> = Vec::new();
    let mut limit =
        |kind: &'static str, reach: Reach, own: fn(Uuid) -> Visible<activity::table>| match reach {
            Reach::All => {}
            Reach::Own(me) => conditions.push(Box::new(
                activity::entity_type.ne(kind).nullable().or(own(me)),
            )),
            Reach::Nothing => conditions.push(Box::new(activity::entity_type.ne(kind).nullable())),
        };
    limit("deal", Reach::of(actor, Permission::DealsReadAll), |me| {
        Box::new(
            activity::entity_id
                .eq_any(
                    deals::table
                        .filter(deals::created_by_id.eq(me).or(deals::assigned_to_id.eq(me)))
                        .select(deals::id),
                )
                .nullable(),
        )
    });
    limit("task", Reach::of(actor, Permission::TasksReadAll), |me| {
        Box::new(
            activity::entity_id
                .eq_any(
                    tasks::table
                        .filter(tasks::created_by_id.eq(me).or(tasks::assigned_to_id.eq(me)))
                        .select(tasks::id),
                )
                .nullable(),
        )
    });
    limit(
        "contact",
        Reach::of(actor, Permission::ContactsReadAll),
        |me| {
            Box::new(
                activity::entity_id
                    .eq_any(
                        contacts::table
                            .filter(contacts::owner_id.eq(me))
                            .select(contacts::id),
                    )
                    .nullable(),
            )
        },
    );
    limit(
        "company",
        Reach::of(actor, Permission::CompaniesReadAll),
        |me| {
            Box::new(
                activity::entity_id
                    .eq_any(
                        companies::table
                            .filter(companies::owner_id.eq(me))
                            .select(companies::id),
                    )
                    .nullable(),
            )
        },
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
        assert_eq!(reach, Reach::Own(me.0));
        assert!(reach.covers(&[None, Some(me.0)]));
        assert!(!reach.covers(&[Some(Uuid::now_v7()), None]));
        assert!(!Reach::Nothing.covers(&[Some(me.0)]));
    }
}
