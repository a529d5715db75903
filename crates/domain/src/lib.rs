//! The orgbase domain: value types and their validation, the organisation object,
//! access levels, paging, live sessions and facilities, the taxonomy and the storage
//! port.
//!
//! This crate owns the rules. It knows nothing of HTTP (axum), SQL (sqlx) or OpenAPI;
//! the `server` crate maps it to the wire, and the `store-*` crates implement its
//! storage traits.
//!
//! Its modules form no cycle: shared basics (`time`, `text`, `email`, `level`,
//! `roles`, `id`, `error`, `limits`, `secret`) sit below the policy (`access`,
//! `schema`), which sits below the aggregates (`org`, `account`, `app`, `session`,
//! …); `store` is on top. No module imports one above it.

pub mod access;
pub mod account;
pub mod app;
pub mod clock;
pub mod connection;
pub mod email;
pub mod error;
pub mod facility;
pub mod id;
pub mod level;
pub mod limits;
pub mod live_session;
pub mod org;
pub mod paging;
pub mod password;
pub mod patch;
pub mod post;
pub mod rate;
pub mod roles;
pub mod schema;
pub mod sealed;
pub mod secret;
pub mod store;
pub mod taxonomy;
pub mod text;
pub mod time;
pub mod whole;

pub use clock::{Clock, ManualClock, SystemClock};
pub use error::{DomainError, FieldError, StoreError};
pub use id::Id;
