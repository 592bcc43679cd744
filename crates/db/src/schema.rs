//! Diesel table definitions, kept in step with `migrations/` (checked by `schema_matches_database`
//! in the testkit tests).

diesel::table! {
    users (id) {
        id -> Uuid,
        email -> Text,
        password_hash -> Text,
        first_name -> Text,
        last_name -> Text,
        role -> Text,
        is_active -> Bool,
        permission_grants -> Array<Text>,
        permission_revokes -> Array<Text>,
        session_epoch -> Int4,
        last_login_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    refresh_tokens (id) {
        id -> Uuid,
        user_id -> Uuid,
        family_id -> Uuid,
        session_epoch -> Int4,
        token_hash -> Bytea,
        created_at -> Timestamptz,
        expires_at -> Timestamptz,
        rotated_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    api_keys (id) {
        id -> Uuid,
        name -> Text,
        prefix -> Text,
        key_hash -> Bytea,
        role -> Text,
        created_by_id -> Nullable<Uuid>,
        expires_at -> Nullable<Timestamptz>,
        revoked_at -> Nullable<Timestamptz>,
        last_used_at -> Nullable<Timestamptz>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    login_failures (id) {
        id -> Int8,
        email -> Text,
        ip -> Text,
        failed_at -> Timestamptz,
    }
}

diesel::joinable!(refresh_tokens -> users (user_id));
diesel::joinable!(api_keys -> users (created_by_id));

diesel::table! {
    activity (id) {
        id -> Uuid,
        entity_type -> Text,
        entity_id -> Uuid,
        #[sql_name = "type"]
        kind -> Text,
        actor_id -> Nullable<Uuid>,
        api_key_id -> Nullable<Uuid>,
        changes -> Jsonb,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    idempotency_keys (principal, key) {
        principal -> Text,
        key -> Text,
        request_hash -> Bytea,
        status -> Nullable<Int2>,
        response -> Nullable<Jsonb>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    tags (id) {
        id -> Uuid,
        name -> Text,
        color -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    pipelines (id) {
        id -> Uuid,
        name -> Text,
        description -> Nullable<Text>,
        is_default -> Bool,
        position -> Int4,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    stages (id) {
        id -> Uuid,
        pipeline_id -> Uuid,
        name -> Text,
        position -> Int4,
        color -> Text,
        #[sql_name = "type"]
        kind -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    companies (id) {
        id -> Uuid,
        name -> Text,
        website -> Nullable<Text>,
        industry -> Nullable<Text>,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        address -> Nullable<Text>,
        employees -> Nullable<Int4>,
        notes -> Nullable<Text>,
        tags -> Array<Text>,
        custom_fields -> Jsonb,
        owner_id -> Nullable<Uuid>,
        created_by_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
        version -> Int4,
    }
}

diesel::table! {
    contacts (id) {
        id -> Uuid,
        full_name -> Text,
        email -> Nullable<Text>,
        phone -> Nullable<Text>,
        position -> Nullable<Text>,
        company_id -> Nullable<Uuid>,
        tags -> Array<Text>,
        notes -> Nullable<Text>,
        social -> Jsonb,
        custom_fields -> Jsonb,
        owner_id -> Nullable<Uuid>,
        created_by_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
        version -> Int4,
    }
}

diesel::table! {
    deals (id) {
        id -> Uuid,
        number -> Int8,
        title -> Text,
        amount -> Nullable<Numeric>,
        currency -> Text,
        pipeline_id -> Uuid,
        stage_id -> Uuid,
        position -> Int8,
        status -> Text,
        contact_id -> Nullable<Uuid>,
        company_id -> Nullable<Uuid>,
        assigned_to_id -> Nullable<Uuid>,
        created_by_id -> Nullable<Uuid>,
        expected_close_at -> Nullable<Timestamptz>,
        closed_at -> Nullable<Timestamptz>,
        lost_reason -> Nullable<Text>,
        description -> Nullable<Text>,
        tags -> Array<Text>,
        custom_fields -> Jsonb,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
        version -> Int4,
    }
}

diesel::table! {
    tasks (id) {
        id -> Uuid,
        title -> Text,
        description -> Nullable<Text>,
        status -> Text,
        priority -> Text,
        #[sql_name = "type"]
        kind -> Text,
        due_at -> Nullable<Timestamptz>,
        completed_at -> Nullable<Timestamptz>,
        deal_id -> Nullable<Uuid>,
        contact_id -> Nullable<Uuid>,
        assigned_to_id -> Nullable<Uuid>,
        created_by_id -> Nullable<Uuid>,
        tags -> Array<Text>,
        custom_fields -> Jsonb,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        deleted_at -> Nullable<Timestamptz>,
        version -> Int4,
        remind_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    comments (id) {
        id -> Uuid,
        entity_type -> Text,
        entity_id -> Uuid,
        author_id -> Nullable<Uuid>,
        #[sql_name = "type"]
        kind -> Text,
        content -> Text,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    files (id) {
        id -> Uuid,
        entity_type -> Text,
        entity_id -> Uuid,
        file_name -> Text,
        content_type -> Text,
        size -> Int8,
        sha256 -> Text,
        uploaded_by_id -> Nullable<Uuid>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
    }
}

diesel::table! {
    jobs (id) {
        id -> Uuid,
        kind -> Text,
        payload -> Jsonb,
        status -> Text,
        attempts -> Int4,
        max_attempts -> Int4,
        run_at -> Timestamptz,
        locked_by -> Nullable<Text>,
        heartbeat_at -> Nullable<Timestamptz>,
        last_error -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        finished_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    imports (id) {
        id -> Uuid,
        job_id -> Uuid,
        created_by_id -> Nullable<Uuid>,
        api_key_id -> Nullable<Uuid>,
        entity_type -> Text,
        dry_run -> Bool,
        upsert_key -> Nullable<Text>,
        file_name -> Text,
        mapping -> Nullable<Jsonb>,
        headers -> Nullable<Array<Text>>,
        status -> Text,
        total_rows -> Int8,
        processed_rows -> Int8,
        created_rows -> Int8,
        updated_rows -> Int8,
        failed_rows -> Int8,
        done_line -> Int8,
        error -> Nullable<Text>,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        started_at -> Nullable<Timestamptz>,
        finished_at -> Nullable<Timestamptz>,
    }
}

diesel::table! {
    import_failures (import_id, line) {
        import_id -> Uuid,
        line -> Int8,
        cells -> Array<Text>,
        errors -> Jsonb,
    }
}

diesel::table! {
    import_keys (import_id, key) {
        import_id -> Uuid,
        key -> Text,
    }
}

diesel::table! {
    custom_field_definitions (id) {
        id -> Uuid,
        entity_type -> Text,
        key -> Text,
        name -> Text,
        #[sql_name = "type"]
        kind -> Text,
        options -> Array<Text>,
        is_required -> Bool,
        is_unique -> Bool,
        default_value -> Nullable<Jsonb>,
        position -> Int4,
        is_active -> Bool,
        created_at -> Timestamptz,
        updated_at -> Timestamptz,
        version -> Int4,
    }
}

diesel::table! {
    events (id) {
        id -> Int8,
        seq -> Nullable<Int8>,
        event -> Text,
        rooms -> Array<Text>,
        actor_id -> Nullable<Uuid>,
        api_key_id -> Nullable<Uuid>,
        payload -> Json,
        read_perms -> Array<Text>,
        read_all_perm -> Nullable<Text>,
        visible_to -> Array<Uuid>,
        created_at -> Timestamptz,
    }
}

diesel::table! {
    custom_field_archive (field_id, record_id) {
        field_id -> Uuid,
        record_id -> Uuid,
        value -> Jsonb,
    }
}

diesel::table! {
    events_horizon (id) {
        id -> Bool,
        pruned_through -> Int8,
    }
}

diesel::table! {
    task_reminders (task_id, kind, at) {
        task_id -> Uuid,
        at -> Timestamptz,
        fired_at -> Timestamptz,
        kind -> Text,
    }
}

diesel::joinable!(stages -> pipelines (pipeline_id));
diesel::joinable!(contacts -> companies (company_id));
diesel::joinable!(deals -> pipelines (pipeline_id));
diesel::joinable!(deals -> stages (stage_id));
diesel::joinable!(deals -> contacts (contact_id));
diesel::joinable!(deals -> companies (company_id));
diesel::joinable!(tasks -> deals (deal_id));
diesel::joinable!(tasks -> contacts (contact_id));
diesel::joinable!(activity -> users (actor_id));
diesel::joinable!(comments -> users (author_id));
diesel::joinable!(files -> users (uploaded_by_id));
diesel::joinable!(import_failures -> imports (import_id));
diesel::joinable!(custom_field_archive -> custom_field_definitions (field_id));
diesel::joinable!(task_reminders -> tasks (task_id));

diesel::allow_tables_to_appear_in_same_query!(
    users,
    refresh_tokens,
    api_keys,
    login_failures,
    activity,
    idempotency_keys,
    tags,
    pipelines,
    stages,
    companies,
    contacts,
    deals,
    tasks,
    comments,
    files,
    jobs,
    imports,
    import_failures,
    import_keys,
    custom_field_definitions,
    custom_field_archive,
    events,
    events_horizon,
    task_reminders,
);
