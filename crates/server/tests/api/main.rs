//! The API test suite: real HTTP against `orgbase` served on a random port, on a
//! fresh database per test. Every test runs on SQLite and on PostgreSQL
//! (`ORGBASE_TEST_POSTGRES_URL`; see `helpers`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests: a failed unwrap is a failed test")]

mod helpers;

mod accounts;
mod apps;
mod auth_hardening;
mod cli;
mod cors;
mod faults;
mod forms;
mod found_by_fuzzing;
mod members;
mod openapi;
mod org_writes;
mod orgs;
mod platform;
mod resilience;
mod secrets;
mod security;
mod sessions;
