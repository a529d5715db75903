//! Runs the conformance suite on SQLite (a temp dir) and on PostgreSQL (a fresh
//! schema in `ORGBASE_TEST_POSTGRES_URL`; unset is a failure, not a skip).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, reason = "tests: a failed unwrap is a failed test")]

use std::sync::Arc;

use orgbase_store_tests as suite;

async fn sqlite() -> (suite::DynStore, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    (Arc::new(orgbase_store_sqlite::open_dir(dir.path()).await.unwrap().sealing_with(key())), dir)
}

async fn postgres() -> suite::DynStore {
    let base = std::env::var("ORGBASE_TEST_POSTGRES_URL").expect("ORGBASE_TEST_POSTGRES_URL (run scripts/test)");
    let secs = orgbase_domain::Clock::now(&orgbase_domain::SystemClock).timestamp();
    let url = orgbase_store_postgres::testing::fresh_schema_url(&base, secs).await.unwrap();
    Arc::new(orgbase_store_postgres::connect(&url).await.unwrap().sealing_with(key()))
}

/// The key that seals app secrets in the suite's stores.
fn key() -> orgbase_domain::sealed::SecretKey {
    orgbase_domain::sealed::SecretKey::parse_hex(&"ab".repeat(32)).unwrap()
}

macro_rules! conformance {
    ($($name:ident),* $(,)?) => {
        mod sqlite { $(
            #[tokio::test]
            async fn $name() { let (store, _dir) = super::sqlite().await; orgbase_store_tests::$name(store).await; }
        )* }
        mod postgres { $(
            #[tokio::test]
            async fn $name() { orgbase_store_tests::$name(super::postgres().await).await; }
        )* }
    };
}

conformance!(
    orgs_round_trip,
    duplicate_codes_are_refused,
    org_lists_page_by_keyset,
    org_state_changes_bump_the_version,
    apps_are_found_by_key,
    apps_change_rotate_and_go_only_in_their_org,
    app_secrets_reseal_and_read_back_the_same,
    memberships_list_every_org_of_an_account,
    live_sessions_round_trip_with_participants,
    live_session_moves_are_conditional,
    live_session_lists_filter_and_page,
    a_removed_member_leaves_the_orgs_sessions,
    a_suspended_member_leaves_the_orgs_sessions,
    a_participants_list_holds_only_reachable_sessions,
    rooms_in_use_or_not_removable_are_kept,
    org_changes_apply_one_after_another,
    reads_follow_writes,
    a_change_that_panics_stops_only_itself,
    abandoned_writes_do_not_leave_stale_reads,
    expired_sessions_and_nonces_are_purged,
    rate_limits_refuse_past_the_burst,
    accounts_round_trip_and_emails_are_unique,
    a_password_change_keeps_one_session_and_voids_a_mailed_reset,
    a_reset_token_works_once_before_it_expires,
    a_verification_token_works_once_before_it_expires,
    racing_uses_of_one_mailed_token_let_exactly_one_through,
    linking_by_email_makes_members_and_invites_unverified_accounts,
    an_import_links_each_row_in_order_in_one_transaction,
    racing_links_of_one_email_make_one_account_and_one_member,
    member_lists_filter_and_page_by_keyset,
    the_last_administrator_is_kept,
    racing_member_changes_keep_an_administrator,
    invitations_are_unique_listed_reissued_and_closed,
    accepting_registers_a_new_account_once,
    accepting_as_an_existing_or_reclaimed_account,
    racing_acceptances_of_one_invitation_let_exactly_one_through,
    an_acceptance_racing_a_revocation_or_reissue_lets_one_win,
    posts_page_by_id_and_are_deleted_once,
    a_touch_slides_a_session_forward_never_back,
    a_nonce_is_accepted_once_however_many_race,
    racing_events_on_one_key_are_each_counted_once,
    places_change_and_go_only_in_their_org,
    a_place_racing_a_session_that_takes_it_is_kept_or_refused,
    a_participant_racing_its_removal_is_never_left_in,
    changes_racing_a_sessions_end_land_before_it_or_not_at_all,
);

/// Each backend names itself and answers a ping.
#[tokio::test]
async fn sqlite_store_names_its_backend_and_answers_a_ping() {
    let (store, _dir) = sqlite().await;
    suite::a_store_names_its_backend_and_answers_a_ping(store, "sqlite").await;
}

/// Each backend names itself and answers a ping.
#[tokio::test]
async fn postgres_store_names_its_backend_and_answers_a_ping() {
    suite::a_store_names_its_backend_and_answers_a_ping(postgres().await, "postgres").await;
}

/// Two PostgreSQL stores on one schema stand for two nodes.
#[tokio::test]
async fn postgres_nodes_hear_each_other() {
    let base = std::env::var("ORGBASE_TEST_POSTGRES_URL").expect("ORGBASE_TEST_POSTGRES_URL (run scripts/test)");
    let secs = orgbase_domain::Clock::now(&orgbase_domain::SystemClock).timestamp();
    let url = orgbase_store_postgres::testing::fresh_schema_url(&base, secs).await.unwrap();
    let a = Arc::new(orgbase_store_postgres::connect(&url).await.unwrap());
    let b = Arc::new(orgbase_store_postgres::connect(&url).await.unwrap());
    suite::nodes_hear_each_other(a, b).await;
}

/// Two PostgreSQL nodes on one schema share their rate limits.
#[tokio::test]
async fn postgres_nodes_share_rate_limits() {
    let base = std::env::var("ORGBASE_TEST_POSTGRES_URL").expect("ORGBASE_TEST_POSTGRES_URL (run scripts/test)");
    let secs = orgbase_domain::Clock::now(&orgbase_domain::SystemClock).timestamp();
    let url = orgbase_store_postgres::testing::fresh_schema_url(&base, secs).await.unwrap();
    let a = Arc::new(orgbase_store_postgres::connect(&url).await.unwrap());
    let b = Arc::new(orgbase_store_postgres::connect(&url).await.unwrap());
    suite::nodes_share_rate_limits(a, b).await;
}

/// Two SQLite stores on one file stand for two processes (`orgbase serve` and a
/// CLI command, say).
#[tokio::test]
async fn sqlite_processes_hear_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let a = Arc::new(orgbase_store_sqlite::open_dir(dir.path()).await.unwrap());
    let b = Arc::new(orgbase_store_sqlite::open_dir(dir.path()).await.unwrap());
    suite::nodes_hear_each_other(a, b).await;
}
