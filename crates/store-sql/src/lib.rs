//! The storage traits of `orgbase_domain::store`, implemented once for SQLite and
//! PostgreSQL on [`backend::SqlStore`], one module per aggregate: each holds the
//! trait impl with its transactions, locks and cache steps, the column list and
//! the row decoder ([`cells`] reads a cell on either database).
//!
//! Where the SQL of the two databases differs, it differs through
//! [`dialect::Dialect`], the one place to read the differences: how a time or JSON
//! is bound, matching roles in a JSON array, a case-insensitive prefix, and the row
//! locks PostgreSQL takes because its writers run side by side (SQLite's single
//! writer connection orders every write). [`bind::Bound`] binds values through the
//! dialect and runs a query. A store crate supplies a [`backend::Backend`]: its
//! pools, its cache, and the few writes that run differently (SQLite's group
//! commit, PostgreSQL's combined org writes, where rate-limit state lives). Keyset
//! paging is [`paging`], LIKE escaping [`text`], driver errors [`error`]. This
//! crate spawns nothing.

pub mod accounts;
pub mod apps;
pub mod backend;
pub mod bind;
pub mod cells;
pub mod connections;
pub mod dialect;
pub mod error;
pub mod facilities;
pub mod live_sessions;
pub mod login_sessions;
pub mod members;
pub mod orgs;
pub mod paging;
pub mod posts;
pub mod text;
