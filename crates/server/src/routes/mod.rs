//! The HTTP routes, one module per resource.

pub mod accounts;
pub mod common;
pub mod facilities;
pub mod health;
pub mod orgs;
pub mod platform;
pub mod sessions;
pub mod taxonomy;
