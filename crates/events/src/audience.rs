//! Who may receive an event, decided per delivery from data stored with the event (no query):
//! the same rules as the services' reads (`deals.read` + `deals.read_all` or being the deal's
//! creator or assignee, and so on).

use crm_core::{Permission, PermissionSet, UserId};

/// The receivers of an event: holders of every permission of `perms` who also hold
/// `read_all`, or (without it) are one of `users`. Without `read_all` the permissions alone
/// decide.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audience {
    /// Permissions every receiver needs.
    pub perms: Vec<Permission>,
    /// The permission that shows every record of the kind (`deals.read_all`, ...).
    pub read_all: Option<Permission>,
    /// Users who see the record without `read_all`: owner, creator, assignee.
    pub users: Vec<UserId>,
}

impl Audience {
    /// The rule of deals (crates/deals `restrict`): `deals.read`, and `deals.read_all` or being
    /// the creator or the assignee.
    pub fn deal(created_by: Option<UserId>, assigned_to: Option<UserId>) -> Self {
        Self {
            perms: vec![Permission::DealsRead],
            read_all: Some(Permission::DealsReadAll),
            users: Vec::new(),
        }
        .with_users([created_by, assigned_to])
    }

    /// The rule of contacts: `contacts.read`, and `contacts.read_all` or being the owner.
    pub fn contact(owner: Option<UserId>) -> Self {
        Self {
            perms: vec![Permission::ContactsRead],
            read_all: Some(Permission::ContactsReadAll),
            users: Vec::new(),
        }
        .with_users([owner])
    }

    /// The rule of tasks: `tasks.read`, and `tasks.read_all` or being the creator or the
    /// assignee.
    pub fn task(created_by: Option<UserId>, assigned_to: Option<UserId>) -> Self {
        Self {
            perms: vec![Permission::TasksRead],
            read_all: Some(Permission::TasksReadAll),
            users: Vec::new(),
        }
        .with_users([created_by, assigned_to])
    }

    /// Also requires `p` (e.g. `comments.read` for a comment on a deal).
    pub fn and(mut self, p: Permission) -> Self {
        if !self.perms.contains(&p) {
            self.perms.push(p);
        }
        self
    }

    /// Adds users who see it without `read_all` (e.g. the owner before and after a change,
    /// so whoever loses sight of a record learns about it).
    pub fn with_users(mut self, users: impl IntoIterator<Item = Option<UserId>>) -> Self {
        for u in users.into_iter().flatten() {
            if !self.users.contains(&u) {
                self.users.push(u);
            }
        }
        self
    }

    /// Whether a principal (`user` as in `Actor::user_id`, with `permissions`) receives it.
    pub fn allows(&self, user: Option<UserId>, permissions: PermissionSet) -> bool {
        self.perms.iter().all(|p| permissions.contains(*p))
            && match self.read_all {
                None => true,
                Some(all) => {
                    permissions.contains(all) || user.is_some_and(|u| self.users.contains(&u))
                }
            }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crm_core::Role;

    #[test]
    fn deal_events_reach_readers_of_all_deals_or_the_deals_people() {
        let (creator, assignee, other) = (UserId::new(), UserId::new(), UserId::new());
        let audience = Audience::deal(Some(creator), Some(assignee));
        let all = Role::Manager.default_permissions();
        let own = all.without(Permission::DealsReadAll);
        assert!(audience.allows(Some(other), all));
        assert!(audience.allows(Some(creator), own));
        assert!(audience.allows(Some(assignee), own));
        assert!(!audience.allows(Some(other), own));
        assert!(!audience.allows(None, own));
        assert!(!audience.allows(Some(creator), own.without(Permission::DealsRead)));
    }

    #[test]
    fn extra_permissions_are_all_required() {
        let audience = Audience::deal(None, None).and(Permission::CommentsRead);
        let all = PermissionSet::all();
        assert!(audience.allows(None, all));
        assert!(!audience.allows(None, all.without(Permission::CommentsRead)));
        assert_eq!(audience.clone().and(Permission::CommentsRead), audience);
    }
}
