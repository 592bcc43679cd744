//! Company services against a real PostgreSQL (a fresh database per test).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, Utc};
use crm_companies::{Company, CompanyError, CreateCompany, ListCompanies, UpdateCompany};
use crm_core::Listing;
use crm_core::actor::Forbidden;
use crm_core::{Actor, EntityKind, EntityRef, Permission, Role};
use crm_db::AsyncPgConnection;
use crm_testkit::{TestDb, UserBuilder, user};
use serde_json::json;

fn named(name: &str) -> CreateCompany {
    CreateCompany {
        name: name.into(),
        ..Default::default()
    }
}

async fn activity_kinds(conn: &mut AsyncPgConnection, id: crm_core::CompanyId) -> Vec<String> {
    let page = crm_activity::list_for_entity(
        conn,
        &Actor::system(),
        EntityRef::new(EntityKind::Company, id),
        None,
        100,
    )
    .await
    .unwrap();
    page.items.into_iter().rev().map(|a| a.kind).collect()
}

fn items(listing: Listing<Company>) -> Vec<String> {
    listing.items().iter().map(|c| c.name.clone()).collect()
}

#[tokio::test]
async fn a_new_company_is_normalised_owned_by_its_creator_and_logged() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let me = user(&mut conn, Role::Manager, vec![]).await;
    let tier =
        serde_json::from_value(json!({"entityType": "company", "key": "tier", "type": "TEXT"}));
    crm_custom_fields::create_custom_field(
        &mut conn,
        &Actor::system(),
        tier.unwrap(),
        &crm_record_events::RecordEvents,
    )
    .await
    .unwrap();
    let company = crm_companies::create_company(
        &mut conn,
        &me.actor(),
        CreateCompany {
            name: "  Acme  ".into(),
            website: Some("https://acme.example".into()),
            email: Some(" Sales@ACME.example ".into()),
            phone: Some("+1 (415) 555-2671".into()),
            employees: Some(12),
            tags: vec![" vip ".into(), "VIP".into()],
            custom_fields: Some(json!({"tier": "gold"})),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(company.name, "Acme");
    assert_eq!(company.email.as_deref(), Some("sales@acme.example"));
    assert_eq!(company.phone.as_deref(), Some("+14155552671"));
    assert_eq!(company.tags, ["vip"]);
    assert_eq!(company.custom_fields, json!({"tier": "gold"}));
    assert_eq!(company.owner_id, Some(me.id));
    assert_eq!(company.created_by_id, Some(me.id));
    assert_eq!(company.version, 1);
    assert_eq!(
        activity_kinds(&mut conn, company.id).await,
        ["company.created"]
    );
}

#[tokio::test]
async fn every_invalid_field_is_named_and_nothing_is_written() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let err = crm_companies::create_company(
        &mut conn,
        &Actor::system(),
        CreateCompany {
            name: " ".into(),
            website: Some("ftp://acme.example".into()),
            email: Some("not-an-email".into()),
            phone: Some("415 555 2671".into()),
            employees: Some(-1),
            custom_fields: Some(json!([1])),
            tags: vec!["".into()],
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    let CompanyError::Invalid(errors) = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        crm_testkit::fields(&errors),
        [
            "customFields",
            "email",
            "employees",
            "name",
            "phone",
            "tags",
            "website"
        ]
    );
    let phone = errors.iter().find(|e| e.field == "phone").unwrap();
    assert!(phone.message.contains("international format"));
    let all = crm_companies::list_companies(&mut conn, &Actor::system(), &Default::default())
        .await
        .unwrap();
    assert!(all.items().is_empty());
}

#[tokio::test]
async fn names_are_unique_among_live_companies_and_restore_refuses_a_taken_name() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let admin = Actor::system();
    let first = crm_companies::create_company(&mut conn, &admin, named("Acme"))
        .await
        .unwrap();
    let err = crm_companies::create_company(&mut conn, &admin, named("ACME"))
        .await
        .unwrap_err();
    assert!(matches!(err, CompanyError::DuplicateName), "{err:?}");
    crm_companies::delete_company(&mut conn, &admin, first.id, false, None)
        .await
        .unwrap();
    let second = crm_companies::create_company(&mut conn, &admin, named("acme"))
        .await
        .unwrap();
    let err = crm_companies::restore_company(&mut conn, &admin, first.id)
        .await
        .unwrap_err();
    assert!(matches!(err, CompanyError::DuplicateName), "{err:?}");
    crm_companies::update_company(
        &mut conn,
        &admin,
        second.id,
        UpdateCompany {
            name: Some(Some("Acme Two".into())),
            ..Default::default()
        },
        None,
    )
    .await
    .unwrap();
    let restored = crm_companies::restore_company(&mut conn, &admin, first.id)
        .await
        .unwrap();
    assert!(restored.deleted_at.is_none());
    assert_eq!(
        activity_kinds(&mut conn, first.id).await,
        ["company.created", "company.deleted", "company.restored"]
    );
}

#[tokio::test]
async fn owners_must_be_active_users() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let gone = UserBuilder::new(Role::Manager)
        .inactive()
        .insert(&mut conn)
        .await;
    for owner in [crm_core::UserId::new(), gone.id] {
        let mut input = named("Acme");
        input.owner_id = Some(owner);
        let err = crm_companies::create_company(&mut conn, &Actor::system(), input)
            .await
            .unwrap_err();
        assert!(
            matches!(err, CompanyError::UnknownUser(id) if id == owner),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn without_read_all_only_own_companies_are_visible() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let me = user(&mut conn, Role::Manager, vec![Permission::CompaniesReadAll]).await;
    let other = user(&mut conn, Role::Manager, vec![]).await;
    let mine = crm_companies::create_company(&mut conn, &me.actor(), named("Mine"))
        .await
        .unwrap();
    let theirs = crm_companies::create_company(&mut conn, &other.actor(), named("Theirs"))
        .await
        .unwrap();
    let listed = crm_companies::list_companies(&mut conn, &me.actor(), &Default::default())
        .await
        .unwrap();
    assert_eq!(items(listed), ["Mine"]);
    let all = crm_companies::list_companies(&mut conn, &other.actor(), &Default::default())
        .await
        .unwrap();
    assert_eq!(items(all), ["Mine", "Theirs"]);
    crm_companies::get_company(&mut conn, &me.actor(), mine.id)
        .await
        .unwrap();
    for err in [
        crm_companies::get_company(&mut conn, &me.actor(), theirs.id)
            .await
            .unwrap_err(),
        crm_companies::update_company(
            &mut conn,
            &me.actor(),
            theirs.id,
            UpdateCompany::default(),
            None,
        )
        .await
        .unwrap_err(),
        crm_companies::delete_company(&mut conn, &me.actor(), theirs.id, false, None)
            .await
            .map(|_| theirs.clone())
            .unwrap_err(),
    ] {
        assert!(matches!(err, CompanyError::NotFound(_)), "{err:?}");
    }
}

#[tokio::test]
async fn a_stale_version_changes_nothing_and_a_change_is_logged_field_by_field() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let admin = Actor::system();
    let c = crm_companies::create_company(&mut conn, &admin, named("Acme"))
        .await
        .unwrap();
    let change = UpdateCompany {
        industry: Some(Some("Retail".into())),
        employees: Some(Some(5)),
        ..Default::default()
    };
    let err = crm_companies::update_company(&mut conn, &admin, c.id, change.clone(), Some(7))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        CompanyError::VersionMismatch(crm_core::VersionMismatch {
            expected: 7,
            current: 1
        })
    ));
    let updated = crm_companies::update_company(&mut conn, &admin, c.id, change, Some(1))
        .await
        .unwrap();
    assert_eq!(updated.version, 2);
    let page = crm_activity::list_for_entity(
        &mut conn,
        &admin,
        EntityRef::new(EntityKind::Company, c.id),
        None,
        10,
    )
    .await
    .unwrap();
    assert_eq!(page.items.len(), 2);
    let changes = serde_json::to_value(&page.items[0].changes).unwrap();
    assert_eq!(
        changes,
        json!([
            {"field": "employees", "from": null, "to": 5},
            {"field": "industry", "from": null, "to": "Retail"}
        ])
    );
    // Clearing with null.
    let cleared = crm_companies::update_company(
        &mut conn,
        &admin,
        c.id,
        UpdateCompany {
            industry: Some(None),
            ..Default::default()
        },
        None,
    )
    .await
    .unwrap();
    assert_eq!(cleared.industry, None);
    assert_eq!(cleared.employees, Some(5));
}

#[tokio::test]
async fn permanent_deletion_is_for_admins_and_purge_removes_old_trash() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let manager = user(&mut conn, Role::Manager, vec![]).await;
    let admin = user(&mut conn, Role::Admin, vec![]).await;
    let c = crm_companies::create_company(&mut conn, &manager.actor(), named("Acme"))
        .await
        .unwrap();
    let err = crm_companies::delete_company(&mut conn, &manager.actor(), c.id, true, None)
        .await
        .unwrap_err();
    assert!(matches!(err, CompanyError::AdminOnly));
    crm_companies::delete_company(&mut conn, &manager.actor(), c.id, false, None)
        .await
        .unwrap();
    let trash = crm_companies::list_companies(
        &mut conn,
        &manager.actor(),
        &ListCompanies {
            deleted: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(items(trash), ["Acme"]);
    assert_eq!(
        crm_companies::purge_trash(&mut conn, Utc::now() - Duration::hours(1))
            .await
            .unwrap(),
        0
    );
    assert_eq!(
        crm_companies::purge_trash(&mut conn, Utc::now() + Duration::seconds(1))
            .await
            .unwrap(),
        1
    );
    let other = crm_companies::create_company(&mut conn, &manager.actor(), named("Other"))
        .await
        .unwrap();
    crm_companies::delete_company(&mut conn, &admin.actor(), other.id, true, None)
        .await
        .unwrap();
    let err = crm_companies::get_company(&mut conn, &admin.actor(), other.id)
        .await
        .unwrap_err();
    assert!(matches!(err, CompanyError::NotFound(_)));
}

#[tokio::test]
async fn a_viewer_writes_nothing() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let viewer = user(&mut conn, Role::Viewer, vec![]).await;
    let err = crm_companies::create_company(&mut conn, &viewer.actor(), named("Acme"))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        CompanyError::Forbidden(Forbidden(Permission::CompaniesWrite))
    ));
}

#[tokio::test]
async fn a_null_name_is_refused_like_an_empty_one() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let c = crm_companies::create_company(&mut conn, &Actor::system(), named("Acme"))
        .await
        .unwrap();
    let change: UpdateCompany = serde_json::from_value(json!({"name": null})).unwrap();
    let err = crm_companies::update_company(&mut conn, &Actor::system(), c.id, change, None)
        .await
        .unwrap_err();
    let CompanyError::Invalid(errors) = err else {
        panic!("{err:?}")
    };
    assert_eq!(errors[0].field, "name");
}

#[tokio::test]
async fn the_name_search_uses_the_trigram_index() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let query = "SELECT id FROM companies WHERE name ILIKE '%acme%'";
    let plan = crm_testkit::index_plan(&mut conn, query).await;
    assert!(
        plan.iter().any(|l| l.contains("companies_name_trgm")),
        "{plan:#?}"
    );
}
