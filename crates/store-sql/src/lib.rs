//! What the SQLite and PostgreSQL stores share, written once: reading the cells of a
//! row ([`cells`]), the row decoders and column lists of each aggregate, keyset
//! paging ([`paging`]), LIKE escaping ([`text`]), the members list filter
//! ([`members`]) and the classification of driver errors ([`error`]). The inserts
//! and partial updates of connections, live sessions and facilities are built here
//! too, each backend giving how it binds a time.
//!
//! The few places where the two dialects differ inside shared SQL (binding a time,
//! matching a role in a JSON array, a case-insensitive prefix match) are the
//! [`dialect::Dialect`] trait, which also binds values onto a plain query and runs
//! it on the dialect's connection ([`bind::Bound`]); with it the row inserts, the
//! account and member reads and writes, and a leaver's session hand-over are
//! written once here, each on a connection (or transaction) the caller passes.
//! Whole trait methods, with their transactions, locking and caching, stay in each
//! store crate; so does any query whose SQL differs by dialect. This crate spawns
//! nothing.

pub mod accounts;
pub mod apps;
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
