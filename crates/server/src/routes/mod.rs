//! The HTTP routes, one module per resource.

pub mod accounts;
pub mod health;
pub mod orgs;
pub mod platform;
pub mod posts;
