//! Contact services against a real PostgreSQL (a fresh database per test).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crm_companies::CreateCompany;
use crm_contacts::{Contact, ContactError, CreateContact, ListContacts, Social, UpdateContact};
use crm_core::actor::Forbidden;
use crm_core::{Actor, CompanyId, Cursor, EntityRef, Listing, Permission, RecordId, Role, UserId};
use crm_db::AsyncPgConnection;
use crm_testkit::{TestDb, user};
use serde_json::json;

fn named(name: &str) -> CreateContact {
    CreateContact {
        full_name: name.into(),
        ..Default::default()
    }
}

async fn company(conn: &mut AsyncPgConnection, name: &str, industry: &str) -> CompanyId {
    crm_companies::create_company(
        conn,
        &Actor::system(),
        CreateCompany {
            name: name.into(),
            industry: Some(industry.into()),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .id
}

async fn timeline(
    conn: &mut AsyncPgConnection,
    id: impl RecordId,
) -> Vec<(String, serde_json::Value)> {
    let page = crm_activity::list_for_entity(conn, &Actor::system(), EntityRef::of(id), None, 100)
        .await
        .unwrap();
    page.items
        .into_iter()
        .rev()
        .map(|a| (a.kind, serde_json::to_value(a.changes).unwrap()))
        .collect()
}

fn names(listing: &Listing<Contact>) -> Vec<String> {
    listing
        .items()
        .iter()
        .map(|c| c.full_name.clone())
        .collect()
}

async fn list(conn: &mut AsyncPgConnection, actor: &Actor, input: ListContacts) -> Vec<String> {
    names(
        &crm_contacts::list_contacts(conn, actor, &input)
            .await
            .unwrap(),
    )
}

#[tokio::test]
async fn a_new_contact_is_normalised_and_owned_by_its_creator() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let me = user(&mut conn, Role::Manager, vec![]).await;
    let c = crm_contacts::create_contact(
        &mut conn,
        &me.actor(),
        CreateContact {
            full_name: " Ada Lovelace ".into(),
            email: Some("  Ada@Example.COM ".into()),
            phone: Some("+1 (415) 555-2671".into()),
            social: Some(Social {
                telegram: Some(" @ada ".into()),
                vk: Some("".into()),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(c.full_name, "Ada Lovelace");
    assert_eq!(c.email.as_deref(), Some("ada@example.com"));
    assert_eq!(c.phone.as_deref(), Some("+14155552671"));
    assert_eq!(c.social.telegram.as_deref(), Some("@ada"));
    assert_eq!(c.social.vk, None);
    assert_eq!(c.owner_id, Some(me.id));
    let fetched = crm_contacts::get_contact(&mut conn, &me.actor(), c.id)
        .await
        .unwrap();
    assert_eq!(fetched, c);
    let log = timeline(&mut conn, c.id).await;
    assert_eq!(log[0].0, "contact.created");
}

#[tokio::test]
async fn invalid_phones_and_fields_are_named() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let err = crm_contacts::create_contact(
        &mut conn,
        &Actor::system(),
        CreateContact {
            full_name: "x".repeat(201),
            email: Some("nope".into()),
            phone: Some("555-2671".into()),
            custom_fields: Some(json!("text")),
            social: Some(Social {
                linkedin: Some("y".repeat(201)),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    let ContactError::Invalid(errors) = err else {
        panic!("{err:?}")
    };
    assert_eq!(
        crm_testkit::fields(&errors),
        [
            "customFields",
            "email",
            "fullName",
            "phone",
            "social.linkedin"
        ]
    );
}

#[tokio::test]
async fn emails_are_unique_among_live_contacts_and_restore_refuses_a_taken_one() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let admin = Actor::system();
    let mut input = named("Ada");
    input.email = Some("ada@example.com".into());
    let first = crm_contacts::create_contact(&mut conn, &admin, input.clone())
        .await
        .unwrap();
    input.email = Some("ADA@example.com".into());
    let err = crm_contacts::create_contact(&mut conn, &admin, input.clone())
        .await
        .unwrap_err();
    assert!(matches!(err, ContactError::DuplicateEmail), "{err:?}");
    crm_contacts::delete_contact(&mut conn, &admin, first.id, false, None)
        .await
        .unwrap();
    let err = crm_contacts::get_contact(&mut conn, &admin, first.id)
        .await
        .unwrap_err();
    assert!(matches!(err, ContactError::NotFound(_)));
    crm_contacts::create_contact(&mut conn, &admin, input)
        .await
        .unwrap();
    let err = crm_contacts::restore_contact(&mut conn, &admin, first.id)
        .await
        .unwrap_err();
    assert!(matches!(err, ContactError::DuplicateEmail), "{err:?}");
}

#[tokio::test]
async fn companies_must_exist_and_not_be_trashed() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let admin = Actor::system();
    let acme = company(&mut conn, "Acme", "Retail").await;
    crm_companies::delete_company(&mut conn, &admin, acme, false, None)
        .await
        .unwrap();
    for id in [CompanyId::new(), acme] {
        let mut input = named("Ada");
        input.company_id = Some(id);
        let err = crm_contacts::create_contact(&mut conn, &admin, input)
            .await
            .unwrap_err();
        assert!(
            matches!(err, ContactError::UnknownCompany(c) if c == id),
            "{err:?}"
        );
    }
    let mut input = named("Ada");
    input.owner_id = Some(UserId::new());
    let err = crm_contacts::create_contact(&mut conn, &admin, input)
        .await
        .unwrap_err();
    assert!(matches!(err, ContactError::UnknownUser(_)), "{err:?}");
}

#[tokio::test]
async fn linking_and_unlinking_is_logged_on_the_contact_and_both_companies() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let admin = Actor::system();
    let acme = company(&mut conn, "Acme", "Retail").await;
    let globex = company(&mut conn, "Globex", "Energy").await;
    let c = crm_contacts::create_contact(&mut conn, &admin, named("Ada"))
        .await
        .unwrap();
    let link = |to: Option<CompanyId>| UpdateContact {
        company_id: Some(to),
        ..Default::default()
    };
    crm_contacts::update_contact(&mut conn, &admin, c.id, link(Some(acme)), None)
        .await
        .unwrap();
    crm_contacts::update_contact(&mut conn, &admin, c.id, link(Some(globex)), None)
        .await
        .unwrap();
    let unlinked = crm_contacts::update_contact(&mut conn, &admin, c.id, link(None), None)
        .await
        .unwrap();
    assert_eq!(unlinked.company_id, None);
    assert_eq!(unlinked.version, 4);
    let contact_log = timeline(&mut conn, c.id).await;
    assert_eq!(
        contact_log[1..],
        [
            (
                "contact.updated".to_owned(),
                json!([{"field": "companyId", "from": null, "to": acme}])
            ),
            (
                "contact.updated".to_owned(),
                json!([{"field": "companyId", "from": acme, "to": globex}])
            ),
            (
                "contact.updated".to_owned(),
                json!([{"field": "companyId", "from": globex, "to": null}])
            ),
        ]
    );
    let acme_log = timeline(&mut conn, acme).await;
    assert_eq!(
        acme_log[1..],
        [
            (
                "company.contact.linked".to_owned(),
                json!([{"field": "contactId", "from": null, "to": c.id}])
            ),
            (
                "company.contact.unlinked".to_owned(),
                json!([{"field": "contactId", "from": c.id, "to": null}])
            ),
        ]
    );
    let globex_log: Vec<String> = timeline(&mut conn, globex)
        .await
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(
        globex_log,
        [
            "company.created",
            "company.contact.linked",
            "company.contact.unlinked"
        ]
    );
}

#[tokio::test]
async fn deleting_a_company_never_deletes_its_contacts() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let admin = Actor::system();
    let acme = company(&mut conn, "Acme", "Retail").await;
    let mut input = named("Ada");
    input.company_id = Some(acme);
    let c = crm_contacts::create_contact(&mut conn, &admin, input)
        .await
        .unwrap();
    crm_companies::delete_company(&mut conn, &admin, acme, false, None)
        .await
        .unwrap();
    let still = crm_contacts::get_contact(&mut conn, &admin, c.id)
        .await
        .unwrap();
    assert_eq!(still.company_id, Some(acme));
    crm_companies::delete_company(&mut conn, &admin, acme, true, None)
        .await
        .unwrap();
    let orphan = crm_contacts::get_contact(&mut conn, &admin, c.id)
        .await
        .unwrap();
    assert_eq!(orphan.company_id, None);
}

#[tokio::test]
async fn lists_filter_by_visibility_search_relations_and_page_by_cursor() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let me = user(&mut conn, Role::Manager, vec![Permission::ContactsReadAll]).await;
    let boss = user(&mut conn, Role::Manager, vec![]).await;
    let acme = company(&mut conn, "Acme Corp", "Retail").await;
    let globex = company(&mut conn, "Globex", "Energy").await;
    let people = [
        (
            "Ada Lovelace",
            "ada@example.com",
            "+442079460958",
            Some(acme),
            &me,
        ),
        (
            "Grace Hopper",
            "grace@navy.example",
            "+14155552671",
            Some(globex),
            &me,
        ),
        (
            "Alan Turing",
            "alan@example.com",
            "+33142685300",
            Some(acme),
            &boss,
        ),
        (
            "Edsger 100%",
            "edsger@example.com",
            "+31201234567",
            None,
            &me,
        ),
        (
            "Barbara Liskov",
            "barbara@mit.example",
            "+12124567890",
            None,
            &me,
        ),
    ];
    for (name, email, phone, company_id, owner) in people {
        crm_contacts::create_contact(
            &mut conn,
            &owner.actor(),
            CreateContact {
                full_name: name.into(),
                email: Some(email.into()),
                phone: Some(phone.into()),
                company_id,
                tags: if company_id.is_some() {
                    vec!["client".into()]
                } else {
                    vec![]
                },
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    let mine = me.actor();
    let all = boss.actor();
    assert_eq!(
        list(&mut conn, &mine, ListContacts::default()).await,
        [
            "Ada Lovelace",
            "Grace Hopper",
            "Edsger 100%",
            "Barbara Liskov"
        ]
    );
    let q = |q: &str| ListContacts {
        q: Some(q.into()),
        ..Default::default()
    };
    assert_eq!(list(&mut conn, &all, q("LOVE")).await, ["Ada Lovelace"]);
    assert_eq!(list(&mut conn, &all, q("navy")).await, ["Grace Hopper"]);
    assert_eq!(list(&mut conn, &all, q("+1415")).await, ["Grace Hopper"]);
    assert_eq!(list(&mut conn, &all, q("100%")).await, ["Edsger 100%"]);
    assert!(list(&mut conn, &all, q("a_a")).await.is_empty());
    assert_eq!(
        list(&mut conn, &mine, q("alan")).await,
        Vec::<String>::new()
    );
    let industry = ListContacts {
        company_industry: Some("retail".into()),
        ..Default::default()
    };
    assert_eq!(
        list(&mut conn, &all, industry.clone()).await,
        ["Ada Lovelace", "Alan Turing"]
    );
    assert_eq!(list(&mut conn, &mine, industry).await, ["Ada Lovelace"]);
    let by_name = ListContacts {
        company_name: Some("glob".into()),
        ..Default::default()
    };
    assert_eq!(list(&mut conn, &all, by_name).await, ["Grace Hopper"]);
    let by_email = ListContacts {
        email: Some("GRACE@navy.example".into()),
        ..Default::default()
    };
    assert_eq!(list(&mut conn, &all, by_email).await, ["Grace Hopper"]);
    let tagged = ListContacts {
        tag: Some("client".into()),
        company_id: Some(acme),
        ..Default::default()
    };
    assert_eq!(
        list(&mut conn, &all, tagged).await,
        ["Ada Lovelace", "Alan Turing"]
    );
    let sorted = ListContacts {
        sort: crm_core::SortSpec::parse(
            Some("-fullName"),
            crm_contacts::ContactSort::ALLOWED,
            vec![],
        )
        .unwrap(),
        ..Default::default()
    };
    assert_eq!(
        list(&mut conn, &all, sorted).await,
        [
            "Grace Hopper",
            "Edsger 100%",
            "Barbara Liskov",
            "Alan Turing",
            "Ada Lovelace"
        ]
    );

    // Keyset pages of two over all five, without gaps or repeats.
    let mut seen = Vec::new();
    let mut cursor: Option<Cursor> = None;
    loop {
        let input = ListContacts {
            cursor: Some(cursor),
            page: crm_core::PageRequest::new(None, Some(2)).unwrap(),
            ..Default::default()
        };
        let Listing::Cursor(page) = crm_contacts::list_contacts(&mut conn, &all, &input)
            .await
            .unwrap()
        else {
            panic!("expected a cursor page")
        };
        seen.extend(page.items.iter().map(|c| c.full_name.clone()));
        match page.next_cursor {
            Some(next) => cursor = Some(Cursor::decode(&next).unwrap()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 5);
    assert_eq!(seen[0], "Ada Lovelace");
    assert_eq!(seen[4], "Barbara Liskov");

    let of_acme = crm_contacts::list_company_contacts(&mut conn, &mine, acme, &Default::default())
        .await
        .unwrap();
    assert_eq!(names(&of_acme), ["Ada Lovelace"]);
}

#[tokio::test]
async fn the_search_uses_the_trigram_index() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let query = format!(
        "SELECT id FROM contacts WHERE {} ILIKE '%lovelace%'",
        crm_contacts::service::SEARCH_EXPR
    );
    let plan = crm_testkit::index_plan(&mut conn, &query).await;
    assert!(
        plan.iter().any(|l| l.contains("contacts_search_trgm")),
        "{plan:#?}"
    );
}

#[tokio::test]
async fn a_viewer_writes_nothing_and_permanent_deletion_is_for_admins() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let viewer = user(&mut conn, Role::Viewer, vec![]).await;
    let manager = user(&mut conn, Role::Manager, vec![]).await;
    let err = crm_contacts::create_contact(&mut conn, &viewer.actor(), named("Ada"))
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        ContactError::Forbidden(Forbidden(Permission::ContactsWrite))
    ));
    let c = crm_contacts::create_contact(&mut conn, &manager.actor(), named("Ada"))
        .await
        .unwrap();
    let err = crm_contacts::delete_contact(&mut conn, &manager.actor(), c.id, true, None)
        .await
        .unwrap_err();
    assert!(matches!(err, ContactError::AdminOnly));
    let err = crm_contacts::delete_contact(&mut conn, &manager.actor(), c.id, false, Some(9))
        .await
        .unwrap_err();
    assert!(matches!(err, ContactError::VersionMismatch(_)));
    crm_contacts::delete_contact(&mut conn, &manager.actor(), c.id, false, Some(1))
        .await
        .unwrap();
    assert_eq!(
        crm_contacts::purge_trash(&mut conn, chrono::Utc::now() + chrono::Duration::seconds(1))
            .await
            .unwrap(),
        1
    );
}
