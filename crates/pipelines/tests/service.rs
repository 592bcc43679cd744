//! Pipeline and stage services against a real PostgreSQL (a fresh database per test).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crm_core::{Actor, DealId, PermissionSet, PipelineId, Role, StageId, UserId};
use crm_db::AsyncPgConnection;
use crm_db::schema::{activity, deals, pipelines};
use crm_deals::{DealError, DealHolder};
use crm_pipelines::{
    CreatePipeline, CreateStage, ListPipelines, Pipeline, PipelineError, ReorderStages, StageInput,
    StageType, UpdatePipeline, UpdateStage,
};
use crm_testkit::{DealRow, TestDb};
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

/// The stage error of a use case that moves deals (they live in crm-deals).
fn stage_error(e: DealError) -> PipelineError {
    match e {
        DealError::Pipeline(e) => e,
        other => panic!("not a stage error: {other:?}"),
    }
}

fn admin() -> Actor {
    Actor::system()
}

fn viewer() -> Actor {
    Actor::user(
        UserId::new(),
        Role::Viewer,
        Role::Viewer.default_permissions(),
    )
}

fn manager() -> Actor {
    Actor::user(
        UserId::new(),
        Role::Manager,
        Role::Manager.default_permissions(),
    )
}

fn named(name: &str) -> CreatePipeline {
    CreatePipeline {
        name: name.into(),
        description: None,
        is_default: false,
        position: None,
        stages: None,
    }
}

fn stage(name: &str, kind: StageType) -> StageInput {
    StageInput {
        name: name.into(),
        color: None,
        kind: Some(kind),
    }
}

async fn create(conn: &mut AsyncPgConnection, input: CreatePipeline) -> Pipeline {
    crm_pipelines::create_pipeline(conn, &admin(), input)
        .await
        .unwrap()
}

async fn default_pipeline(conn: &mut AsyncPgConnection) -> Pipeline {
    let page = crm_pipelines::list_pipelines(conn, &admin(), &ListPipelines::default())
        .await
        .unwrap();
    page.items.into_iter().find(|p| p.is_default).unwrap()
}

type DealState = (
    StageId,
    PipelineId,
    i64,
    String,
    Option<chrono::DateTime<chrono::Utc>>,
);

async fn deal(conn: &mut AsyncPgConnection, id: DealId) -> DealState {
    deals::table
        .find(id)
        .select((
            deals::stage_id,
            deals::pipeline_id,
            deals::position,
            deals::status,
            deals::closed_at,
        ))
        .first(conn)
        .await
        .unwrap()
}

async fn defaults_count(conn: &mut AsyncPgConnection) -> i64 {
    pipelines::table
        .filter(pipelines::is_default.eq(true))
        .count()
        .get_result(conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_seeded_sales_pipeline_is_the_default_with_open_stages_before_won_and_lost() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let sales = default_pipeline(&mut conn).await;
    assert_eq!(sales.name, "Sales");
    let kinds: Vec<StageType> = sales.stages.iter().map(|s| s.kind).collect();
    use StageType::{Lost, Open, Won};
    assert_eq!(kinds, [Open, Open, Open, Open, Won, Lost]);
}

#[tokio::test]
async fn a_pipeline_created_without_stages_gets_the_six_standard_ones() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let p = create(&mut conn, named("  Partners ")).await;
    assert_eq!(p.name, "Partners");
    assert!(!p.is_default);
    assert_eq!(p.position, 1, "after the seeded pipeline");
    let names: Vec<(&str, i32, StageType)> = p
        .stages
        .iter()
        .map(|s| (s.name.as_str(), s.position, s.kind))
        .collect();
    assert_eq!(
        names,
        [
            ("New", 0, StageType::Open),
            ("Qualified", 1, StageType::Open),
            ("Proposal", 2, StageType::Open),
            ("Negotiation", 3, StageType::Open),
            ("Won", 4, StageType::Won),
            ("Lost", 5, StageType::Lost),
        ]
    );
    let custom = create(
        &mut conn,
        CreatePipeline {
            stages: Some(vec![
                StageInput {
                    name: "Lead".into(),
                    color: Some("#AABBCC".into()),
                    kind: None,
                },
                stage("Signed", StageType::Won),
            ]),
            position: Some(7),
            description: Some("Resellers".into()),
            ..named("Resellers")
        },
    )
    .await;
    assert_eq!(custom.position, 7);
    assert_eq!(custom.stages.len(), 2);
    assert_eq!(custom.stages[0].color, "#aabbcc");
    assert_eq!(custom.stages[0].kind, StageType::Open);
    assert_eq!(custom.stages[1].color, "#9e9e9e");
    assert_eq!(
        crm_pipelines::get_pipeline(&mut conn, &viewer(), custom.id)
            .await
            .unwrap(),
        custom
    );
    // Activity: the pipeline and each stage.
    let kinds: Vec<String> = activity::table
        .filter(activity::entity_id.eq(custom.id))
        .select(activity::kind)
        .load(&mut conn)
        .await
        .unwrap();
    assert_eq!(kinds, ["pipeline.created"]);
    let stage_entries: i64 = activity::table
        .filter(activity::kind.eq("stage.created"))
        .filter(activity::entity_id.eq_any(custom.stages.iter().map(|s| s.id)))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(stage_entries, 2);
}

#[tokio::test]
async fn invalid_input_names_the_fields_in_camel_case() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let bad = CreatePipeline {
        name: "   ".into(),
        description: Some("x".repeat(2001)),
        is_default: false,
        position: Some(-1),
        stages: Some(vec![StageInput {
            name: "ok".into(),
            color: Some("red".into()),
            kind: None,
        }]),
    };
    let PipelineError::Invalid(errors) = crm_pipelines::create_pipeline(&mut conn, &admin(), bad)
        .await
        .unwrap_err()
    else {
        panic!("expected Invalid")
    };
    let mut fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
    fields.sort();
    assert_eq!(
        fields,
        ["description", "name", "position", "stages[0].color"]
    );
    let empty = CreatePipeline {
        stages: Some(vec![]),
        ..named("Empty")
    };
    let PipelineError::Invalid(errors) = crm_pipelines::create_pipeline(&mut conn, &admin(), empty)
        .await
        .unwrap_err()
    else {
        panic!("expected Invalid")
    };
    assert_eq!(errors[0].field, "stages");
}

#[tokio::test]
async fn making_a_pipeline_default_unsets_the_previous_one_and_the_default_cannot_be_removed() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let sales = default_pipeline(&mut conn).await;
    let other = create(
        &mut conn,
        CreatePipeline {
            is_default: true,
            ..named("Other")
        },
    )
    .await;
    assert!(other.is_default);
    assert_eq!(defaults_count(&mut conn).await, 1);
    let sales_now = crm_pipelines::get_pipeline(&mut conn, &admin(), sales.id)
        .await
        .unwrap();
    assert!(!sales_now.is_default);
    assert_eq!(sales_now.version, sales.version + 1);
    // Back to Sales with a PATCH.
    let sales_now = crm_pipelines::update_pipeline(
        &mut conn,
        &admin(),
        sales.id,
        UpdatePipeline {
            is_default: Some(true),
            ..Default::default()
        },
        Some(sales_now.version),
    )
    .await
    .unwrap();
    assert!(sales_now.is_default);
    assert_eq!(defaults_count(&mut conn).await, 1);
    let err = crm_pipelines::update_pipeline(
        &mut conn,
        &admin(),
        sales.id,
        UpdatePipeline {
            is_default: Some(false),
            ..Default::default()
        },
        None,
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, PipelineError::DefaultPipelineRequired),
        "{err:?}"
    );
    let err = crm_deals::delete_holder(
        &mut conn,
        &admin(),
        DealHolder::Pipeline(sales.id),
        None,
        None,
    )
    .await
    .map_err(stage_error)
    .unwrap_err();
    assert!(
        matches!(err, PipelineError::DefaultPipelineRequired),
        "{err:?}"
    );
    // isDefault false on a non-default pipeline is fine.
    crm_pipelines::update_pipeline(
        &mut conn,
        &admin(),
        other.id,
        UpdatePipeline {
            is_default: Some(false),
            ..Default::default()
        },
        None,
    )
    .await
    .unwrap();
    assert_eq!(defaults_count(&mut conn).await, 1);
}

#[tokio::test]
async fn two_concurrent_make_default_calls_leave_exactly_one_default() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    for round in 0..5 {
        let a = create(&mut conn, named(&format!("A{round}"))).await;
        let b = create(&mut conn, named(&format!("B{round}"))).await;
        let (mut ca, mut cb) = (db.conn().await, db.conn().await);
        let make = |id| UpdatePipeline {
            is_default: Some(id),
            ..Default::default()
        };
        let actor = admin();
        let (ra, rb) = tokio::join!(
            crm_pipelines::update_pipeline(&mut ca, &actor, a.id, make(true), None),
            crm_pipelines::update_pipeline(&mut cb, &actor, b.id, make(true), None),
        );
        ra.unwrap();
        rb.unwrap();
        assert_eq!(defaults_count(&mut conn).await, 1);
    }
}

#[tokio::test]
async fn deleting_a_stage_with_deals_needs_a_target_and_moves_every_deal_in_order() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let sales = default_pipeline(&mut conn).await;
    let other = create(&mut conn, named("Other")).await;
    let (from, to) = (&sales.stages[1], &other.stages[4]); // Qualified → Won of another pipeline
    let d1 = DealRow::new()
        .on(sales.id, from.id)
        .position(5)
        .insert(&mut conn)
        .await;
    let d2 = DealRow::new()
        .on(sales.id, from.id)
        .position(2)
        .trashed()
        .insert(&mut conn)
        .await;
    let existing = DealRow::new()
        .on(other.id, to.id)
        .position(9)
        .status("won")
        .insert(&mut conn)
        .await;
    let err = crm_deals::delete_holder(&mut conn, &admin(), DealHolder::Stage(from.id), None, None)
        .await
        .map_err(stage_error)
        .unwrap_err();
    assert!(matches!(err, PipelineError::StageInUse(2)), "{err:?}");
    let err = crm_deals::delete_holder(
        &mut conn,
        &admin(),
        DealHolder::Stage(from.id),
        Some(from.id),
        None,
    )
    .await
    .map_err(stage_error)
    .unwrap_err();
    assert!(
        matches!(err, PipelineError::InvalidMoveTarget(_)),
        "{err:?}"
    );
    let err = crm_deals::delete_holder(
        &mut conn,
        &admin(),
        DealHolder::Stage(from.id),
        Some(StageId::new()),
        None,
    )
    .await
    .map_err(stage_error)
    .unwrap_err();
    assert!(
        matches!(err, PipelineError::InvalidMoveTarget(_)),
        "{err:?}"
    );
    crm_deals::delete_holder(
        &mut conn,
        &admin(),
        DealHolder::Stage(from.id),
        Some(to.id),
        None,
    )
    .await
    .unwrap();
    let (s2, p2, pos2, status2, closed2) = deal(&mut conn, d2).await;
    let (s1, p1, pos1, status1, closed1) = deal(&mut conn, d1).await;
    assert_eq!((s1, p1, s2, p2), (to.id, other.id, to.id, other.id));
    // Kanban keys are crm_deals::POSITION_STEP apart.
    assert_eq!(
        (pos2, pos1),
        (9 + 65536, 9 + 2 * 65536),
        "appended after 9, relative order kept"
    );
    assert_eq!((status1.as_str(), status2.as_str()), ("won", "won"));
    assert!(closed1.is_some() && closed2.is_some());
    assert_eq!(deal(&mut conn, existing).await.2, 9);
    // Later stages moved up; positions are 0..n-1 again.
    let stages = crm_pipelines::list_stages(&mut conn, &admin(), sales.id)
        .await
        .unwrap();
    let positions: Vec<i32> = stages.iter().map(|s| s.position).collect();
    assert_eq!(positions, [0, 1, 2, 3, 4]);
    assert!(stages.iter().all(|s| s.id != from.id));
    // The deals' timelines show the move, as for a single move.
    let entries: i64 = activity::table
        .filter(activity::entity_id.eq_any([d1, d2]))
        .filter(activity::kind.eq("deal.stage.changed"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(entries, 2);
}

#[tokio::test]
async fn moving_deals_into_an_open_stage_clears_closed_at_and_an_empty_stage_deletes_freely() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let sales = default_pipeline(&mut conn).await;
    let won = &sales.stages[4];
    let d = DealRow::new()
        .on(sales.id, won.id)
        .position(0)
        .status("won")
        .insert(&mut conn)
        .await;
    crm_deals::delete_holder(
        &mut conn,
        &admin(),
        DealHolder::Stage(won.id),
        Some(sales.stages[0].id),
        None,
    )
    .await
    .unwrap();
    let (stage, _, pos, status, closed) = deal(&mut conn, d).await;
    assert_eq!(
        (stage, pos, status.as_str()),
        (sales.stages[0].id, 0, "open")
    );
    assert!(closed.is_none());
    // An empty stage needs no target.
    crm_deals::delete_holder(
        &mut conn,
        &admin(),
        DealHolder::Stage(sales.stages[1].id),
        None,
        None,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn the_last_stage_of_a_pipeline_cannot_be_deleted() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let p = create(
        &mut conn,
        CreatePipeline {
            stages: Some(vec![stage("Only", StageType::Open)]),
            ..named("Tiny")
        },
    )
    .await;
    let err = crm_deals::delete_holder(
        &mut conn,
        &admin(),
        DealHolder::Stage(p.stages[0].id),
        None,
        None,
    )
    .await
    .map_err(stage_error)
    .unwrap_err();
    assert!(matches!(err, PipelineError::LastStage), "{err:?}");
}

#[tokio::test]
async fn changing_a_stage_type_re_derives_the_status_of_its_deals() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let sales = default_pipeline(&mut conn).await;
    let s = &sales.stages[2];
    let d = DealRow::new()
        .on(sales.id, s.id)
        .position(0)
        .insert(&mut conn)
        .await;
    let trashed = DealRow::new()
        .on(sales.id, s.id)
        .position(1)
        .trashed()
        .insert(&mut conn)
        .await;
    let updated = crm_deals::update_stage(
        &mut conn,
        &admin(),
        s.id,
        UpdateStage {
            kind: Some(StageType::Lost),
            name: Some(" Dead ".into()),
            ..Default::default()
        },
        Some(s.version),
    )
    .await
    .unwrap();
    assert_eq!(
        (updated.kind, updated.name.as_str()),
        (StageType::Lost, "Dead")
    );
    for id in [d, trashed] {
        let (stage, _, pos, status, closed) = deal(&mut conn, id).await;
        assert_eq!(stage, s.id);
        assert_eq!(status, "lost");
        assert!(closed.is_some());
        assert!(pos <= 1, "positions stay");
    }
    let lost_closed = deal(&mut conn, d).await.4;
    // LOST → WON closes the deal again, now (the rule of a single move); → OPEN clears it.
    crm_deals::update_stage(
        &mut conn,
        &admin(),
        s.id,
        UpdateStage {
            kind: Some(StageType::Won),
            ..Default::default()
        },
        None,
    )
    .await
    .unwrap();
    let (_, _, _, status, closed) = deal(&mut conn, d).await;
    assert_eq!(status, "won");
    assert!(closed > lost_closed, "{closed:?} after {lost_closed:?}");
    crm_deals::update_stage(
        &mut conn,
        &admin(),
        s.id,
        UpdateStage {
            kind: Some(StageType::Open),
            ..Default::default()
        },
        None,
    )
    .await
    .unwrap();
    let (_, _, _, status, closed) = deal(&mut conn, d).await;
    assert_eq!((status.as_str(), closed), ("open", None));
    // A stale version changes nothing.
    let err = crm_deals::update_stage(
        &mut conn,
        &admin(),
        s.id,
        UpdateStage {
            kind: Some(StageType::Won),
            ..Default::default()
        },
        Some(s.version),
    )
    .await
    .map_err(stage_error)
    .unwrap_err();
    assert!(matches!(err, PipelineError::VersionMismatch(_)));
    assert_eq!(deal(&mut conn, d).await.3, "open");
}

#[tokio::test]
async fn reordering_needs_exactly_the_pipelines_stage_ids() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let sales = default_pipeline(&mut conn).await;
    let other = create(&mut conn, named("Other")).await;
    let ids: Vec<StageId> = sales.stages.iter().map(|s| s.id).collect();
    let reorder = |stage_ids: Vec<StageId>| ReorderStages { stage_ids };
    let mut missing = ids.clone();
    missing.pop();
    let mut dup = ids.clone();
    dup[0] = dup[1];
    let mut foreign = ids.clone();
    foreign[0] = other.stages[0].id;
    let mut extra = ids.clone();
    extra.push(other.stages[0].id);
    for bad in [missing, dup, foreign, extra, vec![]] {
        let err = crm_pipelines::reorder_stages(&mut conn, &admin(), sales.id, reorder(bad))
            .await
            .unwrap_err();
        let PipelineError::Invalid(errors) = err else {
            panic!("expected Invalid")
        };
        assert_eq!(errors[0].field, "stageIds");
    }
    let mut reversed = ids.clone();
    reversed.reverse();
    let stages =
        crm_pipelines::reorder_stages(&mut conn, &admin(), sales.id, reorder(reversed.clone()))
            .await
            .unwrap();
    let got: Vec<(StageId, i32)> = stages.iter().map(|s| (s.id, s.position)).collect();
    let want: Vec<(StageId, i32)> = reversed.iter().copied().zip(0..).collect();
    assert_eq!(got, want);
    let changes: serde_json::Value = activity::table
        .filter(activity::entity_id.eq(sales.id))
        .filter(activity::kind.eq("stage.reordered"))
        .select(activity::changes)
        .first(&mut conn)
        .await
        .unwrap();
    assert_eq!(changes[0]["field"], "stageIds");
    assert_eq!(changes[0]["to"], serde_json::json!(reversed));
}

#[tokio::test]
async fn stages_are_inserted_at_a_position_and_later_ones_move_down() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let sales = default_pipeline(&mut conn).await;
    let s = crm_pipelines::create_stage(
        &mut conn,
        &admin(),
        sales.id,
        CreateStage {
            name: "Demo".into(),
            color: Some("#123ABC".into()),
            kind: None,
            position: Some(1),
        },
    )
    .await
    .unwrap();
    assert_eq!((s.position, s.color.as_str()), (1, "#123abc"));
    let names: Vec<String> = crm_pipelines::list_stages(&mut conn, &admin(), sales.id)
        .await
        .unwrap()
        .into_iter()
        .map(|s| format!("{}:{}", s.position, s.name))
        .collect();
    assert_eq!(
        names,
        [
            "0:New",
            "1:Demo",
            "2:Qualified",
            "3:Proposal",
            "4:Negotiation",
            "5:Won",
            "6:Lost"
        ]
    );
    let end = crm_pipelines::create_stage(
        &mut conn,
        &admin(),
        sales.id,
        CreateStage {
            name: "Archive".into(),
            color: None,
            kind: Some(StageType::Lost),
            position: Some(99),
        },
    )
    .await
    .unwrap();
    assert_eq!(end.position, 7);
}

#[tokio::test]
async fn the_summary_counts_deals_and_sums_amounts_exactly_per_currency() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let sales = default_pipeline(&mut conn).await;
    let (new, won) = (sales.stages[0].id, sales.stages[4].id);
    DealRow::new()
        .on(sales.id, new)
        .position(0)
        .amount(Some("1500.10"), "EUR")
        .insert(&mut conn)
        .await;
    DealRow::new()
        .on(sales.id, new)
        .position(1)
        .amount(Some("0.20"), "EUR")
        .insert(&mut conn)
        .await;
    DealRow::new()
        .on(sales.id, new)
        .position(2)
        .amount(Some("99.99"), "USD")
        .insert(&mut conn)
        .await;
    DealRow::new()
        .on(sales.id, new)
        .position(3)
        .insert(&mut conn)
        .await;
    DealRow::new()
        .on(sales.id, new)
        .position(4)
        .amount(Some("1000"), "EUR")
        .trashed()
        .insert(&mut conn)
        .await;
    DealRow::new()
        .on(sales.id, won)
        .position(0)
        .status("won")
        .amount(Some("7"), "USD")
        .insert(&mut conn)
        .await;
    let summary = crm_pipelines::pipeline_summary(&mut conn, &viewer(), sales.id)
        .await
        .unwrap();
    assert_eq!(summary.len(), 6);
    let json = serde_json::to_value(&summary).unwrap();
    assert_eq!(
        json[0],
        serde_json::json!({"stageId": new, "name": "New", "type": "OPEN", "count": 4, "totals": [
            {"currency": "EUR", "amount": "1500.30"},
            {"currency": "USD", "amount": "99.99"},
        ]})
    );
    assert_eq!(json[1]["count"], 0);
    assert_eq!(json[1]["totals"], serde_json::json!([]));
    assert_eq!(
        json[4]["totals"],
        serde_json::json!([{"currency": "USD", "amount": "7.00"}])
    );
    let err = crm_pipelines::pipeline_summary(&mut conn, &viewer(), PipelineId::new())
        .await
        .unwrap_err();
    assert!(matches!(err, PipelineError::PipelineNotFound(_)));
}

#[tokio::test]
async fn deleting_a_pipeline_with_deals_moves_them_to_another_pipeline_only() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let sales = default_pipeline(&mut conn).await;
    let doomed = create(&mut conn, named("Doomed")).await;
    let a = DealRow::new()
        .on(doomed.id, doomed.stages[3].id)
        .position(0)
        .insert(&mut conn)
        .await;
    let b = DealRow::new()
        .on(doomed.id, doomed.stages[0].id)
        .position(8)
        .trashed()
        .insert(&mut conn)
        .await;
    let err = crm_deals::delete_holder(
        &mut conn,
        &admin(),
        DealHolder::Pipeline(doomed.id),
        None,
        None,
    )
    .await
    .map_err(stage_error)
    .unwrap_err();
    assert!(matches!(err, PipelineError::PipelineInUse(2)), "{err:?}");
    let err = crm_deals::delete_holder(
        &mut conn,
        &admin(),
        DealHolder::Pipeline(doomed.id),
        Some(doomed.stages[1].id),
        None,
    )
    .await
    .map_err(stage_error)
    .unwrap_err();
    assert!(
        matches!(err, PipelineError::InvalidMoveTarget(_)),
        "{err:?}"
    );
    let err = crm_deals::delete_holder(
        &mut conn,
        &admin(),
        DealHolder::Pipeline(doomed.id),
        None,
        Some(99),
    )
    .await
    .map_err(stage_error)
    .unwrap_err();
    assert!(matches!(err, PipelineError::VersionMismatch(_)));
    crm_deals::delete_holder(
        &mut conn,
        &admin(),
        DealHolder::Pipeline(doomed.id),
        Some(sales.stages[5].id),
        None,
    )
    .await
    .unwrap();
    // Stage order first (b's stage comes first), then deal position.
    let (sb, pb, posb, statusb, _) = deal(&mut conn, b).await;
    let (sa, pa, posa, statusa, _) = deal(&mut conn, a).await;
    assert_eq!(
        (sa, pa, sb, pb),
        (sales.stages[5].id, sales.id, sales.stages[5].id, sales.id)
    );
    assert_eq!((posb, posa), (0, 65536));
    assert_eq!((statusa.as_str(), statusb.as_str()), ("lost", "lost"));
    let err = crm_pipelines::get_pipeline(&mut conn, &admin(), doomed.id)
        .await
        .unwrap_err();
    assert!(matches!(err, PipelineError::PipelineNotFound(_)));
    // An empty pipeline deletes without a target.
    let empty = create(&mut conn, named("Empty")).await;
    crm_deals::delete_holder(
        &mut conn,
        &admin(),
        DealHolder::Pipeline(empty.id),
        None,
        None,
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn viewers_and_managers_read_but_change_nothing() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let sales = default_pipeline(&mut conn).await;
    for actor in [viewer(), manager()] {
        crm_pipelines::get_pipeline(&mut conn, &actor, sales.id)
            .await
            .unwrap();
        let errs = [
            crm_pipelines::create_pipeline(&mut conn, &actor, named("X"))
                .await
                .unwrap_err(),
            crm_pipelines::update_pipeline(
                &mut conn,
                &actor,
                sales.id,
                UpdatePipeline::default(),
                None,
            )
            .await
            .unwrap_err(),
            crm_deals::delete_holder(
                &mut conn,
                &actor,
                DealHolder::Stage(sales.stages[0].id),
                None,
                None,
            )
            .await
            .map_err(stage_error)
            .unwrap_err(),
            crm_deals::update_stage(
                &mut conn,
                &actor,
                sales.stages[0].id,
                UpdateStage::default(),
                None,
            )
            .await
            .map_err(stage_error)
            .unwrap_err(),
        ];
        for e in errs {
            assert!(matches!(e, PipelineError::Forbidden(_)), "{e:?}");
        }
    }
    let nobody = Actor::user(UserId::new(), Role::Viewer, PermissionSet::default());
    let err = crm_pipelines::list_pipelines(&mut conn, &nobody, &ListPipelines::default())
        .await
        .unwrap_err();
    assert!(matches!(err, PipelineError::Forbidden(_)));
}

#[tokio::test]
async fn thousands_of_deals_move_out_of_a_deleted_stage_with_every_entry_and_event() {
    let db = TestDb::new().await;
    let mut conn = db.conn().await;
    let sales = default_pipeline(&mut conn).await;
    let (from, to) = (&sales.stages[1], &sales.stages[4]);
    // More events than one statement may carry parameters for (eight a row).
    let n: i64 = 3000;
    diesel::sql_query(
        "INSERT INTO deals (id, title, currency, pipeline_id, stage_id, position, status) \
         SELECT gen_random_uuid(), 'Deal ' || i, 'USD', $1, $2, i * 65536, 'open' \
         FROM generate_series(1, $3) AS i",
    )
    .bind::<diesel::sql_types::Uuid, _>(sales.id)
    .bind::<diesel::sql_types::Uuid, _>(from.id)
    .bind::<diesel::sql_types::BigInt, _>(n)
    .execute(&mut conn)
    .await
    .unwrap();
    crm_deals::delete_holder(
        &mut conn,
        &admin(),
        DealHolder::Stage(from.id),
        Some(to.id),
        None,
    )
    .await
    .unwrap();
    let won: i64 = deals::table
        .filter(deals::stage_id.eq(to.id))
        .filter(deals::status.eq("won"))
        .filter(deals::closed_at.is_not_null())
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(won, n);
    let entries: i64 = activity::table
        .filter(activity::kind.eq("deal.stage.changed"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(entries, n);
    let events: i64 = crm_db::schema::events::table
        .filter(crm_db::schema::events::event.eq("deal.stage.changed"))
        .count()
        .get_result(&mut conn)
        .await
        .unwrap();
    assert_eq!(events, n);
}
