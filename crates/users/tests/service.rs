//! User services against a real PostgreSQL (a fresh database per test).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crm_core::actor::Forbidden;
use crm_core::{Actor, PageRequest, Permission, Role, SortDirection, SortSpec};
use crm_testkit::TestDb;
use crm_users::{CreateUser, ListUsers, Passwords, UpdateUser, User, UserError, UserSort};

fn input(email: &str, role: Role) -> CreateUser {
    CreateUser {
        email: email.into(),
        password: "correct horse battery".into(),
        first_name: "Ada".into(),
        last_name: "Lovelace".into(),
        role,
        is_active: true,
        permission_grants: vec![],
        permission_revokes: vec![],
    }
}

async fn create(conn: &mut crm_db::AsyncPgConnection, email: &str, role: Role) -> User {
    let p = Passwords::fast_for_tests().unwrap();
    create_with(conn, &Actor::system(), &p, input(email, role))
        .await
        .unwrap()
}

/// Prepares (checks, hashes) and creates, as a caller does: errors of either step come back.
async fn create_with(
    conn: &mut crm_db::AsyncPgConnection,
    actor: &Actor,
    p: &Passwords,
    input: CreateUser,
) -> Result<User, UserError> {
    let new = crm_users::NewUser::prepare(actor, p, input).await?;
    crm_users::create_user(conn, actor, new).await
}

/// Prepares and applies a change.
async fn update_with(
    conn: &mut crm_db::AsyncPgConnection,
    actor: &Actor,
    p: &Passwords,
    id: crm_core::UserId,
    change: UpdateUser,
    expected_version: Option<i32>,
) -> Result<User, UserError> {
    let update = crm_users::UserUpdate::prepare(actor, p, id, change).await?;
    crm_users::update_user(conn, actor, update, expected_version).await
}

#[tokio::test]
async fn emails_are_unique_case_insensitively_and_stored_lower_case() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let user = create(&mut conn, "  Ada@Example.COM ", Role::Manager).await;
    assert_eq!(user.email, "ada@example.com");
    let p = Passwords::fast_for_tests().unwrap();
    let err = create_with(
        &mut conn,
        &Actor::system(),
        &p,
        input("ADA@example.com", Role::Viewer),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, UserError::DuplicateEmail), "{err:?}");
}

#[tokio::test]
async fn invalid_input_names_the_fields_in_camel_case() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let p = Passwords::fast_for_tests().unwrap();
    let mut bad = input("not-an-email", Role::Viewer);
    bad.password = "short".into();
    bad.first_name = "x".repeat(101);
    let UserError::Invalid(errors) = create_with(&mut conn, &Actor::system(), &p, bad)
        .await
        .unwrap_err()
    else {
        panic!("expected Invalid")
    };
    assert_eq!(
        crm_testkit::fields(&errors),
        ["email", "firstName", "password"]
    );
}

#[tokio::test]
async fn the_last_active_admin_cannot_be_demoted_deactivated_or_deleted() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let p = Passwords::fast_for_tests().unwrap();
    let admin = create(&mut conn, "root@example.com", Role::Admin).await;
    let me = admin.actor();
    for change in [
        UpdateUser {
            role: Some(Role::Manager),
            ..Default::default()
        },
        UpdateUser {
            is_active: Some(false),
            ..Default::default()
        },
    ] {
        let err = update_with(&mut conn, &me, &p, admin.id, change, None)
            .await
            .unwrap_err();
        assert!(matches!(err, UserError::LastAdmin), "{err:?}");
    }
    let err = crm_users::delete_user(&mut conn, &me, admin.id, None)
        .await
        .unwrap_err();
    assert!(matches!(err, UserError::LastAdmin));
    // With a second admin, the first may step down.
    create(&mut conn, "second@example.com", Role::Admin).await;
    let demoted = update_with(
        &mut conn,
        &me,
        &p,
        admin.id,
        UpdateUser {
            role: Some(Role::Viewer),
            ..Default::default()
        },
        None,
    )
    .await
    .unwrap();
    assert_eq!(demoted.role, Role::Viewer);
}

#[tokio::test]
async fn two_admins_deactivating_each_other_at_once_leave_one_active() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let a = create(&mut conn, "a@example.com", Role::Admin).await;
    let b = create(&mut conn, "b@example.com", Role::Admin).await;
    let pool = db.pool();
    let run = |actor: User, target: User| {
        let pool = pool.clone();
        tokio::spawn(async move {
            let p = Passwords::fast_for_tests().unwrap();
            let mut conn = pool.get().await.unwrap();
            let change = UpdateUser {
                is_active: Some(false),
                ..Default::default()
            };
            update_with(&mut conn, &actor.actor(), &p, target.id, change, None).await
        })
    };
    let (r1, r2) = tokio::join!(run(a.clone(), b.clone()), run(b, a));
    let results = [r1.unwrap(), r2.unwrap()];
    assert_eq!(
        results.iter().filter(|r| r.is_ok()).count(),
        1,
        "{results:?}"
    );
    assert!(
        results
            .iter()
            .any(|r| matches!(r, Err(UserError::LastAdmin)))
    );
}

#[tokio::test]
async fn a_stale_version_changes_nothing() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let p = Passwords::fast_for_tests().unwrap();
    let user = create(&mut conn, "v@example.com", Role::Manager).await;
    let change = UpdateUser {
        first_name: Some("Grace".into()),
        ..Default::default()
    };
    let err = update_with(
        &mut conn,
        &Actor::system(),
        &p,
        user.id,
        change.clone(),
        Some(user.version + 1),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, UserError::VersionMismatch(_)));
    let same = crm_users::get_user(&mut conn, &Actor::system(), user.id)
        .await
        .unwrap();
    assert_eq!(
        (same.first_name.as_str(), same.version),
        ("Ada", user.version)
    );
    let changed = update_with(
        &mut conn,
        &Actor::system(),
        &p,
        user.id,
        change,
        Some(user.version),
    )
    .await
    .unwrap();
    assert_eq!(
        (changed.first_name.as_str(), changed.version),
        ("Grace", user.version + 1)
    );
}

#[tokio::test]
async fn permissions_are_checked_in_the_service() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let p = Passwords::fast_for_tests().unwrap();
    let viewer = create(&mut conn, "viewer@example.com", Role::Viewer).await;
    let manager = create(&mut conn, "manager@example.com", Role::Manager).await;
    let err = create_with(
        &mut conn,
        &viewer.actor(),
        &p,
        input("x@example.com", Role::Admin),
    )
    .await
    .unwrap_err();
    assert!(matches!(
        err,
        UserError::Forbidden(Forbidden(Permission::UsersManage))
    ));
    // A manager may read users but not promote themselves.
    let promote = UpdateUser {
        role: Some(Role::Admin),
        ..Default::default()
    };
    let err = update_with(&mut conn, &manager.actor(), &p, manager.id, promote, None)
        .await
        .unwrap_err();
    assert!(matches!(err, UserError::Forbidden(_)));
    // Anyone may rename themselves.
    let rename = UpdateUser {
        last_name: Some("Hopper".into()),
        ..Default::default()
    };
    let renamed = update_with(&mut conn, &viewer.actor(), &p, viewer.id, rename, None)
        .await
        .unwrap();
    assert_eq!(renamed.last_name, "Hopper");
    // A revoked permission is gone even though the role grants it.
    let revoke = UpdateUser {
        permission_revokes: Some(vec![Permission::UsersRead]),
        ..Default::default()
    };
    let limited = update_with(&mut conn, &Actor::system(), &p, manager.id, revoke, None)
        .await
        .unwrap();
    assert!(!limited.permissions.contains(&Permission::UsersRead));
    let list = ListUsers {
        page: PageRequest::default(),
        sort: SortSpec { keys: vec![] },
        q: None,
        role: None,
        is_active: None,
    };
    let err = crm_users::list_users(&mut conn, &limited.actor(), &list)
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        UserError::Forbidden(Forbidden(Permission::UsersRead))
    ));
}

#[tokio::test]
async fn lists_search_filter_sort_and_page() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    for (email, role) in [
        ("carol@example.com", Role::Manager),
        ("alice@example.com", Role::Viewer),
        ("bob@sales.example.com", Role::Manager),
    ] {
        create(&mut conn, email, role).await;
    }
    let query = |q: Option<&str>, role, limit, page| ListUsers {
        page: PageRequest::new(Some(page), Some(limit)).unwrap(),
        sort: SortSpec {
            keys: vec![(UserSort::Email, SortDirection::Desc)],
        },
        q: q.map(str::to_owned),
        role,
        is_active: None,
    };
    let all = crm_users::list_users(&mut conn, &Actor::system(), &query(None, None, 2, 1))
        .await
        .unwrap();
    assert_eq!(all.total, 3);
    let emails: Vec<_> = all.items.iter().map(|u| u.email.as_str()).collect();
    assert_eq!(emails, ["carol@example.com", "bob@sales.example.com"]);
    let second = crm_users::list_users(&mut conn, &Actor::system(), &query(None, None, 2, 2))
        .await
        .unwrap();
    assert_eq!(second.items.len(), 1);
    let managers = crm_users::list_users(
        &mut conn,
        &Actor::system(),
        &query(Some("SALES"), Some(Role::Manager), 10, 1),
    )
    .await
    .unwrap();
    assert_eq!(managers.total, 1);
    assert_eq!(managers.items[0].email, "bob@sales.example.com");
    let wildcard =
        crm_users::list_users(&mut conn, &Actor::system(), &query(Some("%"), None, 10, 1))
            .await
            .unwrap();
    assert_eq!(wildcard.total, 0, "% is a literal, not a wildcard");
}
