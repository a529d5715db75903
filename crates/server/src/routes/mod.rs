//! The HTTP routes, one module per resource.

pub mod accounts;
pub mod apps;
pub mod common;
pub mod connections;
pub mod facilities;
pub mod health;
pub mod members;
pub mod orgs;
pub mod platform;
pub mod posts;
pub mod sessions;
pub mod taxonomy;
