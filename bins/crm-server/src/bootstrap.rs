//! The first admin, and `create-admin` for later.

use base64::Engine;
use crm_core::{Actor, Role};
use crm_db::pool::get_conn;
use crm_db::schema::users;
use crm_users::{CreateUser, NewUser, Passwords, UpdateUser, UserUpdate};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use crate::StartupError;
use crate::config::{CreateAdminArgs, Settings};
use crate::database::Database;

/// With no user at all, creates an admin from `CRM_ADMIN_EMAIL`/`CRM_ADMIN_PASSWORD`, or with
/// generated credentials printed once.
pub async fn first_admin(
    db: &Database,
    passwords: &Passwords,
    settings: &Settings,
) -> Result<(), StartupError> {
    let mut conn = get_conn(&db.pool).await?;
    let count: i64 = users::table
        .count()
        .get_result(&mut conn)
        .await
        .map_err(crm_db::DbError::Query)?;
    if count > 0 {
        return Ok(());
    }
    let (email, password, generated) = match (&settings.admin_email, &settings.admin_password) {
        (Some(email), Some(password)) => (email.clone(), password.clone(), false),
        _ => {
            let mut bytes = [0u8; 15];
            getrandom::fill(&mut bytes).map_err(|e| StartupError::Config(e.to_string()))?;
            let password = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
            let email = settings
                .admin_email
                .clone()
                .unwrap_or_else(|| "admin@example.com".to_owned());
            (email, password, true)
        }
    };
    drop(conn);
    let new = NewUser::prepare(
        &Actor::system(),
        passwords,
        admin_input(email, password.clone()),
    )
    .await?;
    let mut conn = get_conn(&db.pool).await?;
    let admin = crm_users::create_user(&mut conn, &Actor::system(), new).await?;
    if generated {
        // Printed once, on purpose outside the log: it is shown to the operator, not stored.
        println!(
            "\n  First start: created admin {}\n  Password: {password}\n  (set CRM_ADMIN_EMAIL and CRM_ADMIN_PASSWORD to choose them)\n",
            admin.email
        );
    }
    tracing::info!(user.id = %admin.id, email = %admin.email, "created the first admin");
    Ok(())
}

fn admin_input(email: String, password: String) -> CreateUser {
    CreateUser {
        email,
        password,
        first_name: "Admin".to_owned(),
        last_name: String::new(),
        role: Role::Admin,
        is_active: true,
        permission_grants: Vec::new(),
        permission_revokes: Vec::new(),
    }
}

/// `crm-server create-admin`: a new admin, or an existing user made an active admin with the
/// given password.
pub async fn create_admin(
    db: &Database,
    passwords: &Passwords,
    args: CreateAdminArgs,
) -> Result<(), StartupError> {
    let existing = crm_users::model::UserRow::find_by_email(
        &mut *get_conn(&db.pool).await?,
        &crm_users::normalize_email(&args.email),
    )
    .await
    .map_err(crm_db::DbError::Query)?;
    let user = match existing {
        Some(row) => {
            let change = UpdateUser {
                role: Some(Role::Admin),
                is_active: Some(true),
                password: Some(args.password),
                ..Default::default()
            };
            let update =
                UserUpdate::prepare(&Actor::system(), passwords, row.id.into(), change).await?;
            let mut conn = get_conn(&db.pool).await?;
            crm_users::update_user(&mut conn, &Actor::system(), update, None).await?
        }
        None => {
            let new = NewUser::prepare(
                &Actor::system(),
                passwords,
                admin_input(args.email, args.password),
            )
            .await?;
            let mut conn = get_conn(&db.pool).await?;
            crm_users::create_user(&mut conn, &Actor::system(), new).await?
        }
    };
    println!("admin {} ({}) is ready", user.email, user.id);
    Ok(())
}
