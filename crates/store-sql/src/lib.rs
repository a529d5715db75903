//! What the SQLite and PostgreSQL stores share, written once: reading the cells of a
//! row ([`cells`]), the row decoders and column lists of each aggregate, and the
//! classification of driver errors ([`error`]). Whole trait methods, with their
//! transactions and locking, stay in each store crate. This crate runs no query and
//! spawns nothing.

pub mod cells;
pub mod connections;
pub mod error;
pub mod extra_cells;
pub mod facilities;
pub mod live_sessions;
pub mod posts;
