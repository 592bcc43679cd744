//! The permission catalogue, the roles and what each role may do by default.
//!
//! Effective permissions of a user = role defaults + the user's grants − the user's revokes.
//! `docs/permissions.md` is the human-readable copy of this table; a test keeps them in step.

use serde::{Deserialize, Serialize};
use strum::{Display, EnumIter, EnumString, IntoEnumIterator, IntoStaticStr};

/// What a user may be allowed to do. API and storage name: the `serialize` string.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Display,
    EnumString,
    EnumIter,
    IntoStaticStr,
    Serialize,
    Deserialize,
    utoipa::ToSchema,
)]
#[repr(u8)]
pub enum Permission {
    /// List and read users.
    #[strum(serialize = "users.read")]
    #[serde(rename = "users.read")]
    UsersRead,
    /// Create, change, deactivate and delete users; manage API keys.
    #[strum(serialize = "users.manage")]
    #[serde(rename = "users.manage")]
    UsersManage,
    /// Read contacts one owns or is assigned to.
    #[strum(serialize = "contacts.read")]
    #[serde(rename = "contacts.read")]
    ContactsRead,
    /// Read every contact, not only one's own.
    #[strum(serialize = "contacts.read_all")]
    #[serde(rename = "contacts.read_all")]
    ContactsReadAll,
    /// Create and change contacts.
    #[strum(serialize = "contacts.write")]
    #[serde(rename = "contacts.write")]
    ContactsWrite,
    /// Delete contacts.
    #[strum(serialize = "contacts.delete")]
    #[serde(rename = "contacts.delete")]
    ContactsDelete,
    /// Read companies one owns.
    #[strum(serialize = "companies.read")]
    #[serde(rename = "companies.read")]
    CompaniesRead,
    /// Read every company.
    #[strum(serialize = "companies.read_all")]
    #[serde(rename = "companies.read_all")]
    CompaniesReadAll,
    /// Create and change companies.
    #[strum(serialize = "companies.write")]
    #[serde(rename = "companies.write")]
    CompaniesWrite,
    /// Delete companies.
    #[strum(serialize = "companies.delete")]
    #[serde(rename = "companies.delete")]
    CompaniesDelete,
    /// Read deals one created or is assigned to.
    #[strum(serialize = "deals.read")]
    #[serde(rename = "deals.read")]
    DealsRead,
    /// Read every deal.
    #[strum(serialize = "deals.read_all")]
    #[serde(rename = "deals.read_all")]
    DealsReadAll,
    /// Create, change and move deals.
    #[strum(serialize = "deals.write")]
    #[serde(rename = "deals.write")]
    DealsWrite,
    /// Delete deals.
    #[strum(serialize = "deals.delete")]
    #[serde(rename = "deals.delete")]
    DealsDelete,
    /// Read tasks one created or is assigned to.
    #[strum(serialize = "tasks.read")]
    #[serde(rename = "tasks.read")]
    TasksRead,
    /// Read every task.
    #[strum(serialize = "tasks.read_all")]
    #[serde(rename = "tasks.read_all")]
    TasksReadAll,
    /// Create and change tasks.
    #[strum(serialize = "tasks.write")]
    #[serde(rename = "tasks.write")]
    TasksWrite,
    /// Delete tasks.
    #[strum(serialize = "tasks.delete")]
    #[serde(rename = "tasks.delete")]
    TasksDelete,
    /// Read comments.
    #[strum(serialize = "comments.read")]
    #[serde(rename = "comments.read")]
    CommentsRead,
    /// Write comments.
    #[strum(serialize = "comments.write")]
    #[serde(rename = "comments.write")]
    CommentsWrite,
    /// Delete other people's comments (admins only by default).
    #[strum(serialize = "comments.delete")]
    #[serde(rename = "comments.delete")]
    CommentsDelete,
    /// Read and download files.
    #[strum(serialize = "files.read")]
    #[serde(rename = "files.read")]
    FilesRead,
    /// Upload files.
    #[strum(serialize = "files.write")]
    #[serde(rename = "files.write")]
    FilesWrite,
    /// Delete files.
    #[strum(serialize = "files.delete")]
    #[serde(rename = "files.delete")]
    FilesDelete,
    /// Read activity timelines.
    #[strum(serialize = "activity.read")]
    #[serde(rename = "activity.read")]
    ActivityRead,
    /// Create, rename, recolour, merge and delete tags in the tag registry.
    #[strum(serialize = "tags.manage")]
    #[serde(rename = "tags.manage")]
    TagsManage,
    /// Read pipelines and stages.
    #[strum(serialize = "pipelines.read")]
    #[serde(rename = "pipelines.read")]
    PipelinesRead,
    /// Create, change, reorder and delete pipelines and stages.
    #[strum(serialize = "pipelines.manage")]
    #[serde(rename = "pipelines.manage")]
    PipelinesManage,
    /// Read custom field definitions.
    #[strum(serialize = "custom_fields.read")]
    #[serde(rename = "custom_fields.read")]
    CustomFieldsRead,
    /// Create, change and delete custom field definitions.
    #[strum(serialize = "custom_fields.manage")]
    #[serde(rename = "custom_fields.manage")]
    CustomFieldsManage,
    /// Run imports.
    #[strum(serialize = "data.import")]
    #[serde(rename = "data.import")]
    DataImport,
    /// Export records.
    #[strum(serialize = "data.export")]
    #[serde(rename = "data.export")]
    DataExport,
    /// Read messages, calls and integration settings.
    #[strum(serialize = "integrations.read")]
    #[serde(rename = "integrations.read")]
    IntegrationsRead,
    /// Configure integrations and outgoing webhooks.
    #[strum(serialize = "integrations.manage")]
    #[serde(rename = "integrations.manage")]
    IntegrationsManage,
    /// Read the audit and request logs.
    #[strum(serialize = "logs.read")]
    #[serde(rename = "logs.read")]
    LogsRead,
}

impl Permission {
    /// The API/storage name, e.g. `contacts.read`.
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    fn bit(self) -> u64 {
        1u64 << (self as u8)
    }
}

crate::named_enum! {
    /// A user's role. API and storage name: upper case.
    #[derive(EnumIter)]
    pub enum Role in "UPPERCASE" {
        /// Everything, including users, pipelines, custom fields, integrations and logs.
        Admin,
        /// Works with all records; manages no settings.
        Manager,
        /// Reads everything, writes nothing.
        Viewer,
    }
}

impl Role {
    /// Permissions the role grants before per-user overrides.
    pub fn default_permissions(self) -> PermissionSet {
        use Permission::*;
        match self {
            Role::Admin => PermissionSet::all(),
            Role::Manager => PermissionSet::all()
                .without(UsersManage)
                .without(PipelinesManage)
                .without(CustomFieldsManage)
                .without(IntegrationsManage)
                .without(LogsRead)
                // Deleting other people's comments is for admins only.
                .without(CommentsDelete),
            Role::Viewer => Permission::iter()
                .filter(|p| {
                    let name = p.as_str();
                    name.ends_with(".read") || name.ends_with(".read_all")
                })
                .collect(),
        }
    }
}

/// A set of permissions (a bit set: copying and checking are free).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PermissionSet(u64);

impl PermissionSet {
    /// Every permission of the catalogue.
    pub fn all() -> Self {
        Permission::iter().collect()
    }

    /// Whether `p` is in the set.
    pub fn contains(self, p: Permission) -> bool {
        self.0 & p.bit() != 0
    }

    /// The set with `p` added.
    pub fn with(self, p: Permission) -> Self {
        Self(self.0 | p.bit())
    }

    /// The set with `p` removed.
    pub fn without(self, p: Permission) -> Self {
        Self(self.0 & !p.bit())
    }

    /// Role defaults plus grants minus revokes (a revoke wins over a grant).
    pub fn effective(role: Role, grants: &[Permission], revokes: &[Permission]) -> Self {
        let mut set = role.default_permissions();
        for &p in grants {
            set = set.with(p);
        }
        for &p in revokes {
            set = set.without(p);
        }
        set
    }

    /// The members in catalogue order.
    pub fn to_vec(self) -> Vec<Permission> {
        Permission::iter().filter(|p| self.contains(*p)).collect()
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        iter.into_iter().fold(Self::default(), Self::with)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_fits_the_bit_set() {
        assert!(Permission::iter().count() <= 64);
        let names: std::collections::HashSet<&str> =
            Permission::iter().map(Permission::as_str).collect();
        assert_eq!(names.len(), Permission::iter().count());
    }

    #[test]
    fn names_round_trip() {
        for p in Permission::iter() {
            assert_eq!(p.as_str().parse::<Permission>().unwrap(), p);
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
    }

    #[test]
    fn viewer_reads_but_never_writes() {
        let v = Role::Viewer.default_permissions();
        assert!(v.contains(Permission::DealsRead) && v.contains(Permission::DealsReadAll));
        assert!(!v.contains(Permission::DealsWrite) && !v.contains(Permission::UsersManage));
    }

    #[test]
    fn manager_manages_no_settings() {
        let m = Role::Manager.default_permissions();
        assert!(m.contains(Permission::DealsDelete) && m.contains(Permission::DataImport));
        assert!(!m.contains(Permission::UsersManage) && !m.contains(Permission::PipelinesManage));
    }

    #[test]
    fn the_documented_catalogue_matches_the_code() {
        let doc = include_str!("../../../docs/permissions.md");
        let mut documented = Vec::new();
        for line in doc.lines().filter(|l| l.starts_with("| `")) {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            let name = cells[1].trim_matches('`');
            let p: Permission = name
                .parse()
                .unwrap_or_else(|_| panic!("unknown permission {name} in docs"));
            for (role, cell) in [
                (Role::Admin, cells[2]),
                (Role::Manager, cells[3]),
                (Role::Viewer, cells[4]),
            ] {
                assert_eq!(
                    role.default_permissions().contains(p),
                    cell == "✓",
                    "{name} for {role} in docs/permissions.md"
                );
            }
            documented.push(p);
        }
        assert_eq!(
            documented,
            Permission::iter().collect::<Vec<_>>(),
            "docs list every permission in order"
        );
    }

    #[test]
    fn revoke_beats_grant() {
        let s = PermissionSet::effective(
            Role::Viewer,
            &[Permission::DealsWrite, Permission::DataExport],
            &[Permission::DealsWrite, Permission::DealsReadAll],
        );
        assert!(s.contains(Permission::DataExport));
        assert!(!s.contains(Permission::DealsWrite) && !s.contains(Permission::DealsReadAll));
    }
}
