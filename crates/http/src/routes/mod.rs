//! Routes per domain; each module registers its handlers (and so their OpenAPI paths).

pub mod activity;
pub mod api_keys;
pub mod auth;
pub mod comments;
pub mod companies;
pub mod contacts;
pub mod custom_fields;
pub mod deals;
pub mod exports;
pub mod files;
pub mod health;
pub mod imports;
pub mod pipelines;
pub mod tags;
pub mod tasks;
pub mod users;

use utoipa_actix_web::service_config::ServiceConfig;

/// Registers every `/api` route.
pub fn configure(cfg: &mut ServiceConfig) {
    health::configure(cfg);
    auth::configure(cfg);
    users::configure(cfg);
    api_keys::configure(cfg);
    activity::configure(cfg);
    pipelines::configure(cfg);
    companies::configure(cfg);
    contacts::configure(cfg);
    deals::configure(cfg);
    tasks::configure(cfg);
    comments::configure(cfg);
    files::configure(cfg);
    imports::configure(cfg);
    exports::configure(cfg);
    tags::configure(cfg);
    custom_fields::configure(cfg);
}
