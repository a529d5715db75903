//! The HTTP routes, one module per resource.

pub mod accounts;
pub mod connections;
pub mod health;
pub mod members;
pub mod orgs;
pub mod platform;
pub mod posts;
