//! Factories that insert records through the real services, with unique defaults so that tests
//! never collide: `UserBuilder::new(Role::Manager).revoke([...]).insert(&mut conn)`.

use std::sync::OnceLock;

use crm_core::{Actor, Permission, Role};
use crm_db::AsyncPgConnection;
use crm_users::{CreateUser, NewUser, Passwords, User};

/// The password every built user has.
pub const PASSWORD: &str = "correct horse battery staple";

/// Cheap hashing shared by every builder of the process.
pub fn passwords() -> &'static Passwords {
    static PASSWORDS: OnceLock<Passwords> = OnceLock::new();
    PASSWORDS.get_or_init(|| Passwords::fast_for_tests().expect("test password hashing"))
}

/// A user to insert.
#[derive(Debug, Clone)]
pub struct UserBuilder {
    input: CreateUser,
}

impl UserBuilder {
    /// An active user of `role` with a unique e-mail (`<role>-<uuid>@example.com`) and
    /// [`PASSWORD`].
    pub fn new(role: Role) -> Self {
        Self {
            input: CreateUser {
                email: format!(
                    "{}-{}@example.com",
                    role.as_str().to_lowercase(),
                    uuid::Uuid::now_v7().simple()
                ),
                password: PASSWORD.into(),
                first_name: "Test".into(),
                last_name: role.as_str().into(),
                role,
                is_active: true,
                permission_grants: Vec::new(),
                permission_revokes: Vec::new(),
            },
        }
    }

    /// Takes these permissions away from the role's.
    pub fn revoke(mut self, permissions: impl IntoIterator<Item = Permission>) -> Self {
        self.input.permission_revokes.extend(permissions);
        self
    }

    /// This e-mail instead of a generated one.
    pub fn email(mut self, email: &str) -> Self {
        self.input.email = email.to_owned();
        self
    }

    /// Deactivated.
    pub fn inactive(mut self) -> Self {
        self.input.is_active = false;
        self
    }

    /// Inserts the user (as the system).
    pub async fn insert(self, conn: &mut AsyncPgConnection) -> User {
        let new = NewUser::prepare(&Actor::system(), passwords(), self.input)
            .await
            .expect("valid test user");
        crm_users::create_user(conn, &Actor::system(), new)
            .await
            .expect("insert test user")
    }
}

/// Inserts an active user of `role` without the `revokes` permissions.
pub async fn user(
    conn: &mut AsyncPgConnection,
    role: Role,
    revokes: impl IntoIterator<Item = Permission>,
) -> User {
    UserBuilder::new(role).revoke(revokes).insert(conn).await
}
