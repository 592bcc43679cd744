//! User use cases. Each takes the connection first (so callers compose them in one
//! transaction), then the actor, then the input.

use chrono::Utc;
use crm_core::{Actor, FieldError, Page, Permission, Role, SortDirection, UserId};
use crm_db::AsyncPgConnection;
use crm_db::constraint::is_unique_violation;
use crm_db::schema::users;
use diesel::prelude::*;
use diesel_async::{AsyncConnection, RunQueryDsl};
use garde::Validate;

use crate::error::UserError;
use crate::input::{CreateUser, ListUsers, UpdateUser, UserSort};
use crate::model::{User, UserRow};
use crate::password::{HashedPassword, Passwords};

/// Serialises every change that could remove the last active admin, so two admins demoting
/// each other at once cannot both succeed.
const ADMIN_CHANGE_LOCK: i64 = 0x4352_4d5f_4144_4d4e;

/// Trimmed and lower-cased: e-mails are unique case-insensitively.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

fn validate(input: &impl Validate<Context = ()>) -> Result<(), UserError> {
    input
        .validate()
        .map_err(|report| UserError::Invalid(FieldError::from_garde(&report)))
}

fn names(perms: &[Permission]) -> Vec<String> {
    let mut v: Vec<String> = perms.iter().map(|p| p.as_str().to_owned()).collect();
    v.sort();
    v.dedup();
    v
}

fn map_unique(e: diesel::result::Error) -> UserError {
    if is_unique_violation(&e, "users_email_key") {
        UserError::DuplicateEmail
    } else {
        e.into()
    }
}

/// A user ready to be created: permission checked, input normalised and validated, password
/// hashed. Hashing is the slow part, so it happens here, before a connection is taken.
#[derive(Debug)]
pub struct NewUser {
    input: CreateUser,
    password_hash: HashedPassword,
}

impl NewUser {
    /// Checks `users.manage`, normalises and validates `input` and hashes its password.
    pub async fn prepare(
        actor: &Actor,
        passwords: &Passwords,
        mut input: CreateUser,
    ) -> Result<Self, UserError> {
        actor.require(Permission::UsersManage)?;
        input.email = normalize_email(&input.email);
        validate(&input)?;
        let password_hash = passwords.hash(&input.password).await?;
        Ok(Self {
            input,
            password_hash,
        })
    }
}

/// Creates a user (`users.manage`) prepared by [`NewUser::prepare`].
pub async fn create_user(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    new: NewUser,
) -> Result<User, UserError> {
    actor.require(Permission::UsersManage)?;
    let NewUser {
        input,
        password_hash,
    } = new;
    let now = Utc::now();
    let row = diesel::insert_into(users::table)
        .values((
            users::id.eq(UserId::new().0),
            users::email.eq(&input.email),
            users::password_hash.eq(password_hash.into_string()),
            users::first_name.eq(input.first_name.trim()),
            users::last_name.eq(input.last_name.trim()),
            users::role.eq(input.role.as_str()),
            users::is_active.eq(input.is_active),
            users::permission_grants.eq(names(&input.permission_grants)),
            users::permission_revokes.eq(names(&input.permission_revokes)),
            users::created_at.eq(now),
            users::updated_at.eq(now),
        ))
        .returning(UserRow::as_returning())
        .get_result(conn)
        .await
        .map_err(map_unique)?;
    Ok(row.into())
}

/// Reads a user (`users.read`, or one's own record).
pub async fn get_user(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: UserId,
) -> Result<User, UserError> {
    if !actor.is_user(id) {
        actor.require(Permission::UsersRead)?;
    }
    UserRow::find(conn, id)
        .await?
        .map(User::from)
        .ok_or(UserError::NotFound(id))
}

fn filtered(input: &ListUsers) -> users::BoxedQuery<'static, diesel::pg::Pg> {
    let mut query = users::table.into_boxed();
    if let Some(q) = input.q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
        let pattern = format!(
            "%{}%",
            q.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        );
        query = query.filter(
            users::email
                .ilike(pattern.clone())
                .or(users::first_name.ilike(pattern.clone()))
                .or(users::last_name.ilike(pattern)),
        );
    }
    if let Some(role) = input.role {
        query = query.filter(users::role.eq(role.as_str()));
    }
    if let Some(active) = input.is_active {
        query = query.filter(users::is_active.eq(active));
    }
    query
}

/// Lists users (`users.read`) with paging, sorting, search and filters.
pub async fn list_users(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    input: &ListUsers,
) -> Result<Page<User>, UserError> {
    actor.require(Permission::UsersRead)?;
    let total: i64 = filtered(input).count().get_result(conn).await?;
    let mut query = filtered(input);
    for &(field, dir) in &input.sort.keys {
        let desc = dir == SortDirection::Desc;
        query = match (field, desc) {
            (UserSort::CreatedAt, false) => query.then_order_by(users::created_at.asc()),
            (UserSort::CreatedAt, true) => query.then_order_by(users::created_at.desc()),
            (UserSort::Email, false) => query.then_order_by(users::email.asc()),
            (UserSort::Email, true) => query.then_order_by(users::email.desc()),
            (UserSort::FirstName, false) => query.then_order_by(users::first_name.asc()),
            (UserSort::FirstName, true) => query.then_order_by(users::first_name.desc()),
            (UserSort::LastName, false) => query.then_order_by(users::last_name.asc()),
            (UserSort::LastName, true) => query.then_order_by(users::last_name.desc()),
            (UserSort::LastLoginAt, false) => {
                query.then_order_by(users::last_login_at.asc().nulls_last())
            }
            (UserSort::LastLoginAt, true) => {
                query.then_order_by(users::last_login_at.desc().nulls_last())
            }
        };
    }
    let rows: Vec<UserRow> = query
        .then_order_by(users::id.asc())
        .select(UserRow::as_select())
        .limit(input.page.limit)
        .offset(input.page.offset())
        .load(conn)
        .await?;
    Ok(Page {
        items: rows.into_iter().map(User::from).collect(),
        page: input.page.page,
        limit: input.page.limit,
        total,
    })
}

#[derive(AsChangeset, Default)]
#[diesel(table_name = users)]
struct UserChangeset {
    email: Option<String>,
    password_hash: Option<String>,
    first_name: Option<String>,
    last_name: Option<String>,
    role: Option<String>,
    is_active: Option<bool>,
    permission_grants: Option<Vec<String>>,
    permission_revokes: Option<Vec<String>>,
    session_epoch: Option<i32>,
}

async fn lock_admin_changes(conn: &mut AsyncPgConnection) -> Result<(), UserError> {
    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
        .bind::<diesel::sql_types::BigInt, _>(ADMIN_CHANGE_LOCK)
        .execute(conn)
        .await?;
    Ok(())
}

async fn ensure_another_active_admin(
    conn: &mut AsyncPgConnection,
    except: UserId,
) -> Result<(), UserError> {
    let others: i64 = users::table
        .filter(users::role.eq(Role::Admin.as_str()))
        .filter(users::is_active.eq(true))
        .filter(users::id.ne(except.0))
        .count()
        .get_result(conn)
        .await?;
    if others == 0 {
        Err(UserError::LastAdmin)
    } else {
        Ok(())
    }
}

/// A change of a user ready to be applied: permission checked, input normalised and
/// validated, a new password already hashed (before any connection or row lock is taken).
#[derive(Debug)]
pub struct UserUpdate {
    id: UserId,
    input: UpdateUser,
    password_hash: Option<HashedPassword>,
}

impl UserUpdate {
    /// Checks the permission (`users.manage`; anyone may change their own names), normalises
    /// and validates `input` and hashes a new password.
    pub async fn prepare(
        actor: &Actor,
        passwords: &Passwords,
        id: UserId,
        mut input: UpdateUser,
    ) -> Result<Self, UserError> {
        if !(actor.is_user(id) && input.is_self_service()) {
            actor.require(Permission::UsersManage)?;
        }
        input.email = input.email.as_deref().map(normalize_email);
        validate(&input)?;
        let password_hash = match &input.password {
            Some(p) => Some(passwords.hash(p).await?),
            None => None,
        };
        Ok(Self {
            id,
            input,
            password_hash,
        })
    }
}

/// Changes a user as prepared by [`UserUpdate::prepare`]. A new password or deactivation ends
/// every session of the user at their next request. `expected_version` (from `If-Match`) must
/// match the stored version.
pub async fn update_user(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    update: UserUpdate,
    expected_version: Option<i32>,
) -> Result<User, UserError> {
    let UserUpdate {
        id,
        input,
        password_hash,
    } = update;
    if !(actor.is_user(id) && input.is_self_service()) {
        actor.require(Permission::UsersManage)?;
    }
    let password_hash = password_hash.map(HashedPassword::into_string);
    conn.transaction(async |conn| {
        let touches_admins = input.role.is_some() || input.is_active.is_some();
        if touches_admins {
            lock_admin_changes(conn).await?;
        }
        let row: UserRow = users::table
            .find(id.0)
            .select(UserRow::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?
            .ok_or(UserError::NotFound(id))?;
        crm_core::check_version(expected_version, row.version)?;
        let loses_admin =
            input.role.is_some_and(|r| r != Role::Admin) || input.is_active == Some(false);
        if row.role.0 == Role::Admin && row.is_active && loses_admin {
            ensure_another_active_admin(conn, id).await?;
        }
        let changes = UserChangeset {
            email: input.email.clone(),
            session_epoch: password_hash.as_ref().map(|_| row.session_epoch + 1),
            password_hash: password_hash.clone(),
            first_name: input.first_name.as_deref().map(|s| s.trim().to_owned()),
            last_name: input.last_name.as_deref().map(|s| s.trim().to_owned()),
            role: input.role.map(|r| r.as_str().to_owned()),
            is_active: input.is_active,
            permission_grants: input.permission_grants.as_deref().map(names),
            permission_revokes: input.permission_revokes.as_deref().map(names),
        };
        let updated: UserRow = diesel::update(users::table.find(id.0))
            .set((
                changes,
                users::updated_at.eq(Utc::now()),
                users::version.eq(users::version + 1),
            ))
            .returning(UserRow::as_returning())
            .get_result(conn)
            .await
            .map_err(map_unique)?;
        Ok(updated.into())
    })
    .await
}

/// Deletes a user for good (`users.manage`); never the last active admin.
pub async fn delete_user(
    conn: &mut AsyncPgConnection,
    actor: &Actor,
    id: UserId,
    expected_version: Option<i32>,
) -> Result<(), UserError> {
    actor.require(Permission::UsersManage)?;
    conn.transaction(async |conn| {
        lock_admin_changes(conn).await?;
        let row: UserRow = users::table
            .find(id.0)
            .select(UserRow::as_select())
            .for_update()
            .first(conn)
            .await
            .optional()?
            .ok_or(UserError::NotFound(id))?;
        crm_core::check_version(expected_version, row.version)?;
        if row.role.0 == Role::Admin && row.is_active {
            ensure_another_active_admin(conn, id).await?;
        }
        diesel::delete(users::table.find(id.0))
            .execute(conn)
            .await?;
        Ok(())
    })
    .await
}

/// Sets a new password hash and ends every session (bumps the session epoch); returns the
/// new epoch. For the auth crate's "change own password" and the CLI.
pub async fn set_password(
    conn: &mut AsyncPgConnection,
    id: UserId,
    password_hash: HashedPassword,
) -> Result<i32, UserError> {
    diesel::update(users::table.find(id.0))
        .set((
            users::password_hash.eq(password_hash.into_string()),
            users::session_epoch.eq(users::session_epoch + 1),
            users::updated_at.eq(Utc::now()),
            users::version.eq(users::version + 1),
        ))
        .returning(users::session_epoch)
        .get_result(conn)
        .await
        .optional()?
        .ok_or(UserError::NotFound(id))
}
