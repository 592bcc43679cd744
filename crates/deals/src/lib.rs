//! Deals: opportunities with an exact decimal amount, placed on a stage of a pipeline. The
//! stage decides the status (open, won, lost) and when the deal was closed; inside a stage the
//! deals are ordered by sparse sort keys (`placement`) that moves, creates, trashing and
//! restoring keep distinct even when several users reorder the same stage at once (the stage
//! rows are locked first).
//!
//! Every deal rule lives here, also those that stage and pipeline changes trigger: deleting a
//! stage or pipeline with `moveDealsTo` and changing a stage's type are [`delete_holder`] and
//! [`update_stage`] (`stage_moves`), built on the stage halves of `crm-pipelines`.
//!
//! Depends on `crm-core`, `crm-db`, `crm-activity`, `crm-custom-fields`, `crm-events` and
//! `crm-pipelines` (and `crm-companies`, whose companies a deal import finds or creates by name); checks links to contacts, companies and users through `crm_db::links`.

pub mod amount;
pub mod error;
mod events;
pub mod export;
pub mod import;
pub mod input;
pub mod model;
mod placement;
pub mod service;
mod stage_moves;

pub use amount::{format_amount, parse_amount};
pub use error::DealError;
pub use events::rewrite_events;
pub use input::{CreateDeal, DealSort, DealStatus, ListDeals, MoveDeal, UpdateDeal};
pub use model::Deal;
pub use placement::STEP as POSITION_STEP;
pub use service::{
    create_deal, delete_deal, get_deal, list_deals, move_deal, purge_trash, restore_deal,
    update_deal,
};
pub use stage_moves::{DealHolder, delete_holder, update_stage};
