//! ONE conformance suite for the storage port, run against every backend
//! (`tests/conformance.rs`). A backend is correct when these pass; the API suite in
//! `server` then only tests HTTP behaviour on top.
//!
//! Each test is a `pub async fn` taking the store (`tests/conformance.rs` runs it on
//! both backends) and calls the store only through `orgbase_domain::store`. The
//! modules hold the tests of one aggregate each; the older tests (orgs, apps, org
//! writes, caches, live sessions, facilities) are in this file.

#![expect(clippy::unwrap_used, reason = "a test suite: a failed unwrap is a failed test")]

mod accounts;
mod apps;
mod connections;
mod facilities;
mod live_sessions;
mod login_sessions;
mod members;
mod posts;

pub use accounts::{
    a_password_change_keeps_one_session_and_voids_a_mailed_reset, a_reset_token_works_once_before_it_expires,
    a_verification_token_works_once_before_it_expires, accounts_round_trip_and_emails_are_unique,
    racing_uses_of_one_mailed_token_let_exactly_one_through,
};
pub use apps::{app_secrets_reseal_and_read_back_the_same, apps_change_rotate_and_go_only_in_their_org};
pub use connections::{
    accepting_as_an_existing_or_reclaimed_account, accepting_registers_a_new_account_once,
    an_acceptance_racing_a_revocation_or_reissue_lets_one_win, invitations_are_unique_listed_reissued_and_closed,
    racing_acceptances_of_one_invitation_let_exactly_one_through,
};
pub use facilities::{
    a_place_racing_a_session_that_takes_it_is_kept_or_refused, places_change_and_go_only_in_their_org,
};
pub use live_sessions::{
    a_participant_racing_its_removal_is_never_left_in, changes_racing_a_sessions_end_land_before_it_or_not_at_all,
};
pub use login_sessions::{
    a_nonce_is_accepted_once_however_many_race, a_store_names_its_backend_and_answers_a_ping,
    a_touch_slides_a_session_forward_never_back, racing_events_on_one_key_are_each_counted_once,
};
pub use members::{
    an_import_links_each_row_in_order_in_one_transaction,
    linking_by_email_makes_members_and_invites_unverified_accounts, member_lists_filter_and_page_by_keyset,
    racing_links_of_one_email_make_one_account_and_one_member, racing_member_changes_keep_an_administrator,
    the_last_administrator_is_kept,
};
pub use posts::posts_page_by_id_and_are_deleted_once;

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use orgbase_domain::account::{Account, Member, MemberEntry, PersonName};
use orgbase_domain::app::{ActAs, App};
use orgbase_domain::email::Email;
use orgbase_domain::facility::{FACILITY_SORT_FIELDS, Facility, PlaceChanges, Room};
use orgbase_domain::live_session::{
    LiveSession, NewSession, Participant, Permissions, SESSION_SORT_FIELDS, SessionAccess, SessionChanges,
    SessionQuery, SessionScope, SessionState,
};
use orgbase_domain::org::{NewOrg, Org, OrgState};
use orgbase_domain::paging::{PageParams, PageRequest};
use orgbase_domain::rate::Quota;
use orgbase_domain::store::{Admins, MemberFilter, ORG_SORT_FIELDS, Store};
use orgbase_domain::{Clock, Id, StoreError, SystemClock};

/// A store under test.
pub type DynStore = Arc<dyn Store>;

pub(crate) fn now() -> DateTime<Utc> {
    SystemClock.now()
}

pub(crate) fn new_org(code: &str, name: &str, at: DateTime<Utc>) -> Org {
    Org::create(NewOrg { code: code.into(), name: name.into(), locale: None, tz: Some("US/Pacific".into()) }, at)
        .unwrap()
}

fn page(pairs: &[(&str, String)]) -> PageRequest {
    page_of(pairs, ORG_SORT_FIELDS)
}

pub(crate) fn page_of(pairs: &[(&str, String)], sortable: &[&'static str]) -> PageRequest {
    let get = |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
    PageParams {
        limit: get("limit"),
        skip: get("skip"),
        starting_after: get("after"),
        ending_before: get("before"),
        sort: get("sort"),
    }
    .validate(sortable)
    .unwrap()
}

/// An org reads back exactly as written, by code and by id.
pub async fn orgs_round_trip(store: DynStore) {
    let mut org = new_org("round-trip", "Round Trip", now());
    org.props.custom.insert("c_numbers".into(), serde_json::json!([1, 2, 3]));
    org.props.security.allow_external_participants = true;
    store.insert_org(&org, None).await.unwrap();
    assert_eq!(store.org_by_code("round-trip").await.unwrap().as_deref(), Some(&org));
    assert_eq!(store.org_by_id(org.id).await.unwrap(), Some(org));
    assert_eq!(store.org_by_code("missing").await.unwrap(), None);
    assert_eq!(store.org_by_id(Id::from_u96(1)).await.unwrap(), None);
}

/// Codes are unique.
pub async fn duplicate_codes_are_refused(store: DynStore) {
    store.insert_org(&new_org("dup", "One", now()), None).await.unwrap();
    let err = store.insert_org(&new_org("dup", "Two", now()), None).await.unwrap_err();
    assert!(matches!(err, StoreError::Exists(_)), "{err:?}");
}

/// Keyset paging in both directions and every sort field, with skip.
pub async fn org_lists_page_by_keyset(store: DynStore) {
    let start = now();
    let names = ["delta", "alpha", "echo", "charlie", "bravo"];
    let mut orgs = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let org = new_org(&format!("org-{name}"), name, start + Duration::seconds(i as i64));
        store.insert_org(&org, None).await.unwrap();
        orgs.push(org);
    }
    let names_of =
        |p: &orgbase_domain::paging::Page<Org>| p.data.iter().map(|o| o.props.name.clone()).collect::<Vec<_>>();
    let all = store.list_orgs(&page(&[])).await.unwrap();
    assert_eq!(names_of(&all), names);
    assert!(!all.has_more);
    let first = store.list_orgs(&page(&[("limit", "2".into())])).await.unwrap();
    assert_eq!((names_of(&first), first.has_more), (vec!["delta".into(), "alpha".into()], true));
    let next = store.list_orgs(&page(&[("limit", "2".into()), ("after", orgs[1].id.to_string())])).await.unwrap();
    assert_eq!(names_of(&next), ["echo", "charlie"]);
    let back = store.list_orgs(&page(&[("limit", "2".into()), ("before", orgs[2].id.to_string())])).await.unwrap();
    assert_eq!((names_of(&back), back.has_more), (vec!["delta".into(), "alpha".into()], false));
    for field in ["name", "code", "created"] {
        let asc = store.list_orgs(&page(&[("sort", field.into())])).await.unwrap();
        let desc = store.list_orgs(&page(&[("sort", format!("-{field}"))])).await.unwrap();
        let mut reversed = names_of(&desc);
        reversed.reverse();
        assert_eq!(names_of(&asc), reversed, "{field}");
    }
    let by_name = store
        .list_orgs(&page(&[("sort", "name".into()), ("after", orgs[3].id.to_string()), ("limit", "1".into())]))
        .await
        .unwrap();
    assert_eq!(names_of(&by_name), ["delta"]);
    let skipped =
        store.list_orgs(&page(&[("sort", "-name".into()), ("skip", "1".into()), ("limit", "2".into())])).await.unwrap();
    assert_eq!(names_of(&skipped), ["delta", "charlie"]);
}

/// Setting the state bumps the version and the update time.
pub async fn org_state_changes_bump_the_version(store: DynStore) {
    let org = new_org("stateful", "Stateful", now());
    store.insert_org(&org, None).await.unwrap();
    let later = org.created + Duration::seconds(5);
    let changed = store.set_org_state(org.id, OrgState::Disabled, later).await.unwrap();
    assert_eq!((changed.state, changed.version, changed.updated), (OrgState::Disabled, org.version + 1, later));
    let err = store.set_org_state(Id::from_u96(99), OrgState::Enabled, later).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound));
}

/// Apps are found by key and listed per org; keys are unique.
pub async fn apps_are_found_by_key(store: DynStore) {
    let org = new_org("with-apps", "With Apps", now());
    store.insert_org(&org, None).await.unwrap();
    let a = App::new(org.id, "web".into(), vec!["https://app.example".into()], now());
    let b = App::new(org.id, "server".into(), vec![], now());
    store.insert_app(&a).await.unwrap();
    store.insert_app(&b).await.unwrap();
    assert_eq!(store.app_by_key(&a.key).await.unwrap().as_deref(), Some(&a));
    assert_eq!(store.app_by_key("nope").await.unwrap(), None);
    assert_eq!(store.apps_of_org(org.id).await.unwrap(), vec![a.clone(), b]);
    let mut clash = App::new(org.id, "clash".into(), vec![], now());
    clash.key = a.key.clone();
    assert!(matches!(store.insert_app(&clash).await.unwrap_err(), StoreError::Exists(_)));
    // The signing rules round-trip: v2 required, and a list of accounts (or none).
    let mut strict = App::new(org.id, "strict".into(), vec![], now());
    strict.require_signature_v2 = true;
    strict.act_as = ActAs::Only(vec![Id::from_u96(7), Id::from_u96(8)]);
    let mut mute = App::new(org.id, "mute".into(), vec![], now());
    mute.act_as = ActAs::Only(vec![]);
    for app in [strict, mute] {
        store.insert_app(&app).await.unwrap();
        assert_eq!(store.app_by_key(&app.key).await.unwrap().as_deref(), Some(&app));
    }
}

/// The purge deletes expired login sessions and old nonces, and keeps the rest.
pub async fn expired_sessions_and_nonces_are_purged(store: DynStore) {
    let org = new_org("purged", "Purged", now());
    store.insert_org(&org, None).await.unwrap();
    let someone = account_in(&store, "purged@follows.example", Some(&org)).await;
    let start = now();
    let old = session_in(&store, &org, &someone, 'a', start - Duration::hours(2)).await;
    let live = session_in(&store, &org, &someone, 'b', start).await;
    let app = Id::from_u96(3);
    assert!(store.record_nonce(app, "old", start - Duration::minutes(20), start - Duration::hours(1)).await.unwrap());
    assert!(store.record_nonce(app, "new", start, start - Duration::hours(1)).await.unwrap());
    // Read once, so a cached copy would have to be forgotten too.
    assert!(store.login_session_by_token_hash(&old.token_hash).await.unwrap().is_some());
    let purged = store.purge_expired(start, start - Duration::minutes(10)).await.unwrap();
    assert!(purged >= 2, "the expired session and the old nonce: {purged}");
    assert_eq!(store.login_session_by_token_hash(&old.token_hash).await.unwrap(), None);
    assert_eq!(store.login_session_by_token_hash(&live.token_hash).await.unwrap().map(|s| s.id), Some(live.id));
    // The old nonce is usable again; the new one is still a replay.
    assert!(store.record_nonce(app, "old", start, start - Duration::hours(1)).await.unwrap());
    assert!(!store.record_nonce(app, "new", start, start - Duration::hours(1)).await.unwrap());
    assert_eq!(store.purge_expired(start, start - Duration::minutes(10)).await.unwrap(), 0);
}

/// A rate limit lets a burst through, refuses the next event with the wait, lets
/// one through per interval after that, and keeps keys apart.
pub async fn rate_limits_refuse_past_the_burst(store: DynStore) {
    let quota = Quota::new(3, std::time::Duration::from_secs(60));
    let start = now();
    for _ in 0..3 {
        assert_eq!(store.rate_limit("login:a", quota, start).await.unwrap(), None);
    }
    let wait = store.rate_limit("login:a", quota, start).await.unwrap();
    assert_eq!(wait, Some(std::time::Duration::from_secs(20)));
    assert_eq!(store.rate_limit("login:b", quota, start).await.unwrap(), None, "another key");
    let later = start + Duration::seconds(20);
    assert_eq!(store.rate_limit("login:a", quota, later).await.unwrap(), None);
    assert!(store.rate_limit("login:a", quota, later).await.unwrap().is_some());
    // Once its time has passed, a key's state is purged and it starts over.
    let idle = start + Duration::hours(1);
    assert!(store.purge_expired(idle, idle).await.unwrap() >= 2);
    for _ in 0..3 {
        assert_eq!(store.rate_limit("login:a", quota, idle).await.unwrap(), None);
    }
}

/// Two nodes share rate limits: events spread over both count as on one.
pub async fn nodes_share_rate_limits(a: DynStore, b: DynStore) {
    let quota = Quota::new(4, std::time::Duration::from_secs(60));
    let start = now();
    let mut allowed = 0;
    for i in 0..12 {
        let node = if i % 2 == 0 { &a } else { &b };
        if node.rate_limit("login:shared", quota, start).await.unwrap().is_none() {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 4);
}

pub(crate) async fn account_in(store: &DynStore, email: &str, org: Option<&Org>) -> Account {
    let account = Account::new(
        Email::parse("email", email).unwrap(),
        PersonName { first: "Test".into(), last: "Person".into() },
        None,
        now(),
    );
    let member = org.map(|o| Member::new(o.id, account.id, vec![], now()));
    store.insert_account(&account, member.as_ref()).await.unwrap();
    account
}

pub(crate) fn new_session(org: &Org, owner: &Account, name: &str, at: DateTime<Utc>) -> LiveSession {
    let new = NewSession { name: name.into(), session_type: "SURGERY".into(), ..NewSession::default() };
    LiveSession::create(new, org.id, owner.id, (None, None), at).unwrap()
}

pub(crate) fn drawer() -> Permissions {
    Permissions { can_clear_all_drawings: true, ..Permissions::default() }
}

/// The org's administrator roles, with nobody in particular acting.
pub(crate) fn admins(roles: &[Id]) -> Admins<'_> {
    Admins { roles, acting: None }
}

pub(crate) fn conflict<T: std::fmt::Debug>(r: Result<T, StoreError>) -> bool {
    matches!(r, Err(StoreError::Conflict(_)))
}

/// Every membership of an account, oldest first.
pub async fn memberships_list_every_org_of_an_account(store: DynStore) {
    let a = new_org("home-a", "A", now());
    let b = new_org("home-b", "B", now());
    store.insert_org(&a, None).await.unwrap();
    store.insert_org(&b, None).await.unwrap();
    let bob = account_in(&store, "bob@x.test", Some(&a)).await;
    store.insert_member(&Member::new(b.id, bob.id, vec![], now() + Duration::seconds(1))).await.unwrap();
    let orgs: Vec<Id> = store.memberships_of(bob.id).await.unwrap().iter().map(|m| m.org).collect();
    assert_eq!(orgs, [a.id, b.id]);
    assert!(store.memberships_of(Id::from_u96(77)).await.unwrap().is_empty());
}

/// A session reads back with its participants; participants are unique per
/// session, and their permissions change and go.
pub async fn live_sessions_round_trip_with_participants(store: DynStore) {
    let a = new_org("sess-a", "A", now());
    let b = new_org("sess-b", "B", now());
    store.insert_org(&a, None).await.unwrap();
    store.insert_org(&b, None).await.unwrap();
    let alice = account_in(&store, "alice@x.test", Some(&a)).await;
    let bob = account_in(&store, "bob@x.test", Some(&b)).await;
    let mut session = new_session(&a, &alice, "Knee", now());
    session.speciality = Some("ORTHOPAEDIC_SURGERY".into());
    store.insert_live_session(&session).await.unwrap();
    assert_eq!(store.live_session(session.id).await.unwrap(), Some(session.clone()));
    assert_eq!(store.live_session(Id::from_u96(5)).await.unwrap(), None);

    let guest = Participant::new(session.id, bob.id, b.id, drawer(), now() + Duration::seconds(1));
    store.insert_participant(&guest).await.unwrap();
    let again = Participant::new(session.id, bob.id, b.id, Permissions::ALL, now());
    assert!(matches!(store.insert_participant(&again).await, Err(StoreError::Exists(_))));
    let missing = Participant::new(Id::from_u96(5), bob.id, b.id, drawer(), now());
    assert!(matches!(store.insert_participant(&missing).await, Err(StoreError::NotFound)));
    let read = store.live_session(session.id).await.unwrap().unwrap();
    assert_eq!(read.participants, vec![session.participants[0].clone(), guest.clone()]);

    let ender = Permissions { can_end_session: true, ..Permissions::default() };
    let later = now() + Duration::seconds(2);
    let changed = store.update_participant(session.id, bob.id, ender, later).await.unwrap();
    assert_eq!((changed.permissions, changed.updated, changed.home_org), (ender, later, b.id));
    let nobody = store.update_participant(session.id, Id::from_u96(6), ender, later).await;
    assert!(matches!(nobody, Err(StoreError::NotFound)));
    store.delete_participant(session.id, bob.id).await.unwrap();
    assert!(matches!(store.delete_participant(session.id, bob.id).await, Err(StoreError::NotFound)));
    assert_eq!(store.live_session(session.id).await.unwrap().unwrap().participants.len(), 1);

    store.delete_live_session(session.id).await.unwrap();
    assert_eq!(store.live_session(session.id).await.unwrap(), None);
    assert!(matches!(store.delete_live_session(session.id).await, Err(StoreError::NotFound)));
}

/// `scheduled → live → ended`, each move conditional: of two racing ends one wins,
/// and an ended session refuses every change.
pub async fn live_session_moves_are_conditional(store: DynStore) {
    let org = new_org("moves", "Moves", now());
    store.insert_org(&org, None).await.unwrap();
    let alice = account_in(&store, "alice@x.test", Some(&org)).await;
    let bob = account_in(&store, "bob@x.test", Some(&org)).await;
    let session = new_session(&org, &alice, "Hip", now());
    store.insert_live_session(&session).await.unwrap();
    let t = now() + Duration::seconds(3);
    assert!(conflict(store.move_live_session(session.id, SessionState::Ended, t).await));
    assert!(conflict(store.move_live_session(session.id, SessionState::Scheduled, t).await));
    let live = store.move_live_session(session.id, SessionState::Live, t).await.unwrap();
    assert_eq!((live.state, live.started, live.ended), (SessionState::Live, Some(t), None));
    assert!(conflict(store.move_live_session(session.id, SessionState::Live, t).await));

    let changes =
        SessionChanges { name: Some("Hip, left".into()), speciality: Some(None), ..SessionChanges::default() };
    let renamed = store.update_live_session(session.id, &changes, t).await.unwrap();
    assert_eq!((renamed.name.as_str(), renamed.state), ("Hip, left", SessionState::Live));

    let (one, two) = tokio::join!(
        store.move_live_session(session.id, SessionState::Ended, t),
        store.move_live_session(session.id, SessionState::Ended, t)
    );
    assert_eq!(u8::from(one.is_ok()) + u8::from(two.is_ok()), 1, "exactly one end wins: {one:?} {two:?}");
    let ended = store.live_session(session.id).await.unwrap().unwrap();
    assert_eq!((ended.state, ended.ended), (SessionState::Ended, Some(t)));

    assert!(conflict(store.update_live_session(session.id, &changes, t).await));
    let late = Participant::new(session.id, bob.id, org.id, drawer(), t);
    assert!(conflict(store.insert_participant(&late).await));
    assert!(conflict(store.update_participant(session.id, alice.id, drawer(), t).await));
    assert!(conflict(store.delete_participant(session.id, alice.id).await));
    let gone = store.move_live_session(Id::from_u96(8), SessionState::Live, t).await;
    assert!(matches!(gone, Err(StoreError::NotFound)));
    let gone = store.update_live_session(Id::from_u96(8), &changes, t).await;
    assert!(matches!(gone, Err(StoreError::NotFound)));
}

/// Lists cover their scope (an org's admins, its members, one participant across
/// orgs), filter by state, owner and participant, and page by keyset.
pub async fn live_session_lists_filter_and_page(store: DynStore) {
    let a = new_org("list-a", "A", now());
    let b = new_org("list-b", "B", now());
    store.insert_org(&a, None).await.unwrap();
    store.insert_org(&b, None).await.unwrap();
    let alice = account_in(&store, "alice@x.test", Some(&a)).await;
    let carol = account_in(&store, "carol@x.test", Some(&a)).await;
    let bob = account_in(&store, "bob@x.test", Some(&b)).await;
    let start = now();
    let mut made = Vec::new();
    for (i, name) in ["one", "two", "three", "four"].iter().enumerate() {
        let mut s = new_session(&a, &alice, name, start + Duration::seconds(i as i64));
        s.scheduled_start = start + Duration::hours(4 - i as i64);
        if *name == "four" {
            s.access = SessionAccess::Organisation;
        }
        store.insert_live_session(&s).await.unwrap();
        made.push(s);
    }
    let in_b = new_session(&b, &bob, "elsewhere", start + Duration::seconds(9));
    store.insert_live_session(&in_b).await.unwrap();
    for s in [&made[0], &made[2]] {
        store.insert_participant(&Participant::new(s.id, bob.id, b.id, drawer(), start)).await.unwrap();
    }
    store.move_live_session(made[1].id, SessionState::Live, start).await.unwrap();

    let names =
        |p: orgbase_domain::paging::Page<LiveSession>| p.data.iter().map(|s| s.name.clone()).collect::<Vec<_>>();
    let query = |scope| SessionQuery { scope, state: None, owner: None, participant: None };
    let all = page_of(&[], SESSION_SORT_FIELDS);
    let list = |q: SessionQuery, p: PageRequest| {
        let store = store.clone();
        async move { store.list_live_sessions(&q, &p).await.unwrap() }
    };
    assert_eq!(names(list(query(SessionScope::Org(a.id)), all).await), ["one", "two", "three", "four"]);
    let carols = query(SessionScope::OrgMember { org: a.id, account: carol.id });
    assert_eq!(names(list(carols, all).await), ["four"]);
    let bobs = query(SessionScope::Participant(bob.id));
    let mine = list(bobs, all).await;
    assert_eq!(names(mine.clone()), ["one", "three", "elsewhere"]);
    assert_eq!(mine.data[0].participants.len(), 2, "participants come with each session");
    let live = SessionQuery { state: Some(SessionState::Live), ..query(SessionScope::Org(a.id)) };
    assert_eq!(names(list(live, all).await), ["two"]);
    let owned = SessionQuery { owner: Some(bob.id), ..query(SessionScope::Participant(bob.id)) };
    assert_eq!(names(list(owned, all).await), ["elsewhere"]);
    let with_bob = SessionQuery { participant: Some(bob.id), ..query(SessionScope::Org(a.id)) };
    assert_eq!(names(list(with_bob, all).await), ["one", "three"]);

    let first = list(query(SessionScope::Org(a.id)), page_of(&[("limit", "2".into())], SESSION_SORT_FIELDS)).await;
    assert!(first.has_more);
    let after = page_of(&[("limit", "2".into()), ("after", made[1].id.to_string())], SESSION_SORT_FIELDS);
    let second = list(query(SessionScope::Org(a.id)), after).await;
    assert_eq!((names(second.clone()), second.has_more), (vec!["three".into(), "four".into()], false));
    let by_start = page_of(&[("sort", "scheduledStart".into())], SESSION_SORT_FIELDS);
    assert_eq!(names(list(query(SessionScope::Org(a.id)), by_start).await), ["four", "three", "two", "one"]);
}

/// Facilities and rooms page per org and facility; what is non-removable or used
/// by a session that has not ended is kept, and an ended session lets go.
pub async fn rooms_in_use_or_not_removable_are_kept(store: DynStore) {
    let org = new_org("places", "Places", now());
    let other = new_org("elsewhere", "Elsewhere", now());
    store.insert_org(&org, None).await.unwrap();
    store.insert_org(&other, None).await.unwrap();
    let alice = account_in(&store, "alice@x.test", Some(&org)).await;
    let t = now();
    let site = Facility::new(org.id, "St Mary's", None, t).unwrap();
    let annex = Facility::new(org.id, "Annex", None, t + Duration::seconds(1)).unwrap();
    store.insert_facility(&site).await.unwrap();
    store.insert_facility(&annex).await.unwrap();
    let theatre = Room::new(&site, "Theatre 1", None, t).unwrap();
    let fixed = Room::new(&site, "Theatre 2", Some(false), t).unwrap();
    store.insert_room(&theatre).await.unwrap();
    store.insert_room(&fixed).await.unwrap();
    let orphan = Room::new(&Facility::new(org.id, "Ghost", None, t).unwrap(), "Nowhere", None, t).unwrap();
    assert!(matches!(store.insert_room(&orphan).await, Err(StoreError::NotFound)));

    assert_eq!(store.facility(org.id, site.id).await.unwrap(), Some(site.clone()));
    assert_eq!(store.facility(other.id, site.id).await.unwrap(), None, "another org's id finds nothing");
    assert_eq!(store.room(org.id, theatre.id).await.unwrap(), Some(theatre.clone()));
    let by_name = page_of(&[("sort", "name".into())], FACILITY_SORT_FIELDS);
    let facilities = store.list_facilities(org.id, &by_name).await.unwrap();
    assert_eq!(facilities.data, vec![annex.clone(), site.clone()]);
    assert!(store.list_facilities(other.id, &by_name).await.unwrap().data.is_empty());
    let rooms = store.list_rooms(org.id, site.id, &page_of(&[("limit", "1".into())], FACILITY_SORT_FIELDS)).await;
    let rooms = rooms.unwrap();
    assert_eq!((rooms.data, rooms.has_more), (vec![theatre.clone()], true));

    let mut session = new_session(&org, &alice, "In theatre 1", t);
    (session.facility, session.room) = (Some(site.id), Some(theatre.id));
    store.insert_live_session(&session).await.unwrap();
    assert!(conflict(store.delete_room(org.id, theatre.id).await), "a scheduled session holds it");
    assert!(conflict(store.delete_room(org.id, fixed.id).await), "non-removable");
    assert!(conflict(store.delete_facility(org.id, site.id).await));
    assert!(matches!(store.delete_room(other.id, theatre.id).await, Err(StoreError::NotFound)));

    let renamed = PlaceChanges { name: Some("Theatre Two".into()), is_removable: Some(true) };
    let fixed = store.update_room(org.id, fixed.id, &renamed, t).await.unwrap();
    assert_eq!((fixed.name.as_str(), fixed.is_removable), ("Theatre Two", true));
    store.delete_room(org.id, fixed.id).await.unwrap();
    let locked = PlaceChanges { name: None, is_removable: Some(false) };
    assert!(!store.update_facility(org.id, annex.id, &locked, t).await.unwrap().is_removable);
    assert!(conflict(store.delete_facility(org.id, annex.id).await));
    assert!(matches!(store.update_facility(other.id, annex.id, &locked, t).await, Err(StoreError::NotFound)));

    store.move_live_session(session.id, SessionState::Live, t).await.unwrap();
    assert!(conflict(store.delete_room(org.id, theatre.id).await), "a live session holds it");
    store.move_live_session(session.id, SessionState::Ended, t).await.unwrap();
    store.delete_facility(org.id, site.id).await.unwrap();
    assert_eq!(store.room(org.id, theatre.id).await.unwrap(), None, "rooms go with their facility");
    let ended = store.live_session(session.id).await.unwrap().unwrap();
    assert_eq!((ended.facility, ended.room), (None, None), "ended sessions let go of deleted places");
    let mut late = new_session(&org, &alice, "Too late", t);
    late.facility = Some(site.id);
    assert!(matches!(store.insert_live_session(&late).await, Err(StoreError::NotFound)));
}

/// Concurrent changes to one org all land, each on the result of the one before;
/// a refused change writes nothing; reads see every committed version.
pub async fn org_changes_apply_one_after_another(store: DynStore) {
    use orgbase_domain::DomainError;
    use orgbase_domain::store::OrgChange;

    let org = new_org("changes", "Changes", now());
    store.insert_org(&org, None).await.unwrap();
    let writes = (0..40).map(|i| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let change: OrgChange = Box::new(move |current: &Org| {
                let mut props = current.props.clone();
                let list = props.custom.entry("c_list".into()).or_insert_with(|| serde_json::json!([]));
                list.as_array_mut().unwrap().push(serde_json::json!(i));
                Ok((props, current.schema.clone()))
            });
            store.modify_org(org.id, change, None, now()).await.unwrap()
        })
    });
    let mut versions = Vec::new();
    for write in writes.collect::<Vec<_>>() {
        versions.push(write.await.unwrap().version);
    }
    versions.sort_unstable();
    assert_eq!(versions, (org.version + 1..=org.version + 40).collect::<Vec<_>>());
    let stored = store.org_by_id(org.id).await.unwrap().unwrap();
    assert_eq!(stored.version, org.version + 40);
    let mut list: Vec<i64> =
        stored.props.custom["c_list"].as_array().unwrap().iter().map(|v| v.as_i64().unwrap()).collect();
    list.sort_unstable();
    assert_eq!(list, (0..40).collect::<Vec<_>>());
    assert_eq!(store.org_by_code("changes").await.unwrap().unwrap().version, stored.version);

    let refuse: OrgChange = Box::new(|_| Err(DomainError::PreconditionFailed));
    let refused = store.modify_org(org.id, refuse, None, now()).await.unwrap_err();
    assert!(matches!(refused, DomainError::PreconditionFailed), "{refused:?}");
    assert_eq!(store.org_by_id(org.id).await.unwrap().unwrap().version, stored.version);

    // Refused changes among concurrent ones (combined into one write by a store
    // that batches) change nothing; the others all land.
    let writes = (0..40).map(|i| {
        let store = Arc::clone(&store);
        tokio::spawn(async move {
            let change: OrgChange = Box::new(move |current: &Org| {
                if i % 4 == 0 {
                    return Err(DomainError::PreconditionFailed);
                }
                let mut props = current.props.clone();
                let list = props.custom.get_mut("c_list").unwrap().as_array_mut().unwrap();
                list.push(serde_json::json!(100 + i));
                Ok((props, current.schema.clone()))
            });
            store.modify_org(org.id, change, None, now()).await
        })
    });
    let mut landed = 0;
    for write in writes.collect::<Vec<_>>() {
        match write.await.unwrap() {
            Ok(_) => landed += 1,
            Err(e) => assert!(matches!(e, DomainError::PreconditionFailed), "{e:?}"),
        }
    }
    assert_eq!(landed, 30);
    let stored = store.org_by_id(org.id).await.unwrap().unwrap();
    let list = stored.props.custom["c_list"].as_array().unwrap();
    assert_eq!(list.len(), 70);
    assert!(list.iter().all(|v| v.as_i64().unwrap() < 100 || v.as_i64().unwrap() % 4 != 0));
    assert_eq!(stored.version, org.version + 70);

    let rename: OrgChange = Box::new(|current: &Org| {
        let mut props = current.props.clone();
        props.name = "Renamed".into();
        Ok((props, current.schema.clone()))
    });
    let renamed = store.modify_org(org.id, rename, Some(org.id), now()).await.unwrap();
    assert_eq!(store.org_by_id(org.id).await.unwrap().unwrap(), renamed);
    assert_eq!(store.org_by_code("changes").await.unwrap().as_deref(), Some(&renamed));

    let noop: OrgChange = Box::new(|current: &Org| Ok((current.props.clone(), current.schema.clone())));
    let missing = store.modify_org(Id::from_u96(9), noop, None, now()).await.unwrap_err();
    assert!(matches!(missing, DomainError::NotFound), "{missing:?}");

    // A write that did not go through `modify_org` (a state change) is not lost
    // by the next change.
    store.set_org_state(org.id, OrgState::Disabled, now()).await.unwrap();
    let rename: OrgChange = Box::new(|current: &Org| {
        let mut props = current.props.clone();
        props.name = "Again".into();
        Ok((props, current.schema.clone()))
    });
    let again = store.modify_org(org.id, rename, None, now()).await.unwrap();
    assert_eq!(again.state, OrgState::Disabled);
    assert_eq!(again.version, renamed.version + 2);
    assert_eq!(store.org_by_id(org.id).await.unwrap().unwrap(), again);
}

/// What a request reads before its work (session, account, membership, the org's
/// apps, pending invitations) follows every write at once, read twice in a row so
/// a backend that keeps reads cannot answer from before the write.
pub async fn reads_follow_writes(store: DynStore) {
    use orgbase_domain::account::{LoginSession, MemberState};
    use orgbase_domain::connection::{Connection, ConnectionState};
    use orgbase_domain::roles::{ADMINISTRATOR, PROVIDER};

    let org = new_org("follows", "Follows", now());
    store.insert_org(&org, None).await.unwrap();
    let admin = account_in(&store, "admin@follows.example", None).await;
    store.insert_member(&Member::new(org.id, admin.id, vec![ADMINISTRATOR], now())).await.unwrap();
    let someone = account_in(&store, "someone@follows.example", Some(&org)).await;
    let twice = |store: DynStore, org: Id, account: Id| async move {
        let first = store.member_of(org, account).await.unwrap();
        assert_eq!(store.member_of(org, account).await.unwrap(), first);
        // The org's member list (one page of everyone, and a filtered page) agrees.
        let everyone = PageParams::default().validate(&["_id"]).unwrap();
        for filter in
            [MemberFilter::default(), MemberFilter { search: Some("someone".into()), ..MemberFilter::default() }]
        {
            let page = store.list_members(org, &filter, &everyone).await.unwrap();
            assert_eq!(store.list_members(org, &filter, &everyone).await.unwrap(), page);
            let listed = page.data.iter().find(|e| e.member.account == account).map(|e| e.member.clone());
            assert_eq!(listed, first, "the member list disagrees with the membership ({filter:?})");
        }
        first
    };

    // Membership.
    let member = twice(Arc::clone(&store), org.id, someone.id).await.unwrap();
    assert!(member.roles.is_empty());
    let entry = store.member_by_id(org.id, member.id).await.unwrap().unwrap();
    assert_eq!(entry, MemberEntry::new(member.clone(), &someone));
    store.update_member(org.id, member.id, Some(&[PROVIDER]), None, admins(&[ADMINISTRATOR]), now()).await.unwrap();
    assert_eq!(twice(Arc::clone(&store), org.id, someone.id).await.unwrap().roles, vec![PROVIDER]);
    store
        .update_member(org.id, member.id, None, Some(MemberState::Suspended), admins(&[ADMINISTRATOR]), now())
        .await
        .unwrap();
    assert_eq!(twice(Arc::clone(&store), org.id, someone.id).await.unwrap().state, MemberState::Suspended);
    store.delete_member(org.id, member.id, admins(&[ADMINISTRATOR]), now()).await.unwrap();
    assert_eq!(twice(Arc::clone(&store), org.id, someone.id).await, None);
    store.insert_member(&Member::new(org.id, someone.id, vec![], now())).await.unwrap();
    assert!(twice(Arc::clone(&store), org.id, someone.id).await.is_some());

    // Account.
    assert_eq!(store.account_by_id(someone.id).await.unwrap().unwrap().password_hash, None);
    store.set_password(someone.id, "$argon2id$fake", None, now()).await.unwrap();
    for _ in 0..2 {
        let hash = store.account_by_id(someone.id).await.unwrap().unwrap().password_hash;
        assert_eq!(hash.as_deref(), Some("$argon2id$fake"));
    }

    // LoginSession: touched, then deleted.
    let at = now();
    let session = session_in(&store, &org, &someone, 'f', at).await;
    for _ in 0..2 {
        let read = store.login_session_by_token_hash(&session.token_hash).await.unwrap().unwrap();
        assert_eq!(read.expires.timestamp_millis(), session.expires.timestamp_millis());
    }
    let later = at + Duration::hours(2);
    store.touch_login_session(session.id, later, later + Duration::hours(1)).await.unwrap();
    for _ in 0..2 {
        let read = store.login_session_by_token_hash(&session.token_hash).await.unwrap().unwrap();
        assert_eq!(read.expires.timestamp_millis(), (later + Duration::hours(1)).timestamp_millis());
    }
    store.delete_login_session(session.id).await.unwrap();
    assert_eq!(store.login_session_by_token_hash(&session.token_hash).await.unwrap(), None);

    // A password change ends the account's other sessions.
    let other = LoginSession { id: Id::generate(now()), token_hash: "e".repeat(64), ..session.clone() };
    store.insert_login_session(&other).await.unwrap();
    assert!(store.login_session_by_token_hash(&other.token_hash).await.unwrap().is_some());
    store.set_password(someone.id, "$argon2id$other", None, now()).await.unwrap();
    assert_eq!(store.login_session_by_token_hash(&other.token_hash).await.unwrap(), None);

    // Apps of the org.
    assert!(store.apps_of_org(org.id).await.unwrap().is_empty());
    let app = App::new(org.id, "web".into(), vec![], now());
    store.insert_app(&app).await.unwrap();
    assert_eq!(store.apps_of_org(org.id).await.unwrap(), vec![app]);

    // Pending invitations, for the org and for one address.
    let email = Email::parse("email", "invited@follows.example").unwrap();
    for _ in 0..2 {
        assert!(!store.has_pending_connection(org.id, None, now()).await.unwrap());
        assert!(!store.has_pending_connection(org.id, Some(&email), now()).await.unwrap());
    }
    let (invite, _) = Connection::new(org.id, email.clone(), None, vec![], None, now() + Duration::days(1), now());
    store.insert_connection(&invite).await.unwrap();
    for _ in 0..2 {
        assert!(store.has_pending_connection(org.id, None, now()).await.unwrap());
        assert!(store.has_pending_connection(org.id, Some(&email), now()).await.unwrap());
        // Once expired, a pending invitation no longer counts, cached or not.
        let later = now() + Duration::days(2);
        assert!(!store.has_pending_connection(org.id, None, later).await.unwrap());
        assert!(!store.has_pending_connection(org.id, Some(&email), later).await.unwrap());
    }
    store.close_connection(org.id, invite.id, ConnectionState::Revoked, now()).await.unwrap();
    assert!(!store.has_pending_connection(org.id, None, now()).await.unwrap());
    assert!(!store.has_pending_connection(org.id, Some(&email), now()).await.unwrap());
}

/// A one-hour login session of `account` in `org`, stored; its token digest is
/// `digit` 64 times.
pub(crate) async fn session_in(
    store: &DynStore,
    org: &Org,
    account: &Account,
    digit: char,
    at: DateTime<Utc>,
) -> orgbase_domain::account::LoginSession {
    let session = orgbase_domain::account::LoginSession {
        id: Id::generate(at),
        token_hash: digit.to_string().repeat(64),
        account: account.id,
        org: org.id,
        created: at,
        last_seen: at,
        expires: at + Duration::hours(1),
    };
    store.insert_login_session(&session).await.unwrap();
    session
}

/// Waits (up to 5 s) until `check` holds; false if it never does.
async fn eventually<F, Fut>(mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..250 {
        if check().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    false
}

/// Two nodes on one database: what one changes, the other stops serving from its
/// cache (PostgreSQL: the change notifications of migration 0006; SQLite: `PRAGMA
/// data_version`), and each write starts from the other's.
pub async fn nodes_hear_each_other(a: DynStore, b: DynStore) {
    use orgbase_domain::roles::ADMINISTRATOR;
    use orgbase_domain::store::OrgChange;

    let org = new_org("two-nodes", "Two Nodes", now());
    a.insert_org(&org, None).await.unwrap();
    assert_eq!(b.org_by_code("two-nodes").await.unwrap().unwrap().version, org.version);
    let push = |value: &'static str| -> OrgChange {
        Box::new(move |current: &Org| {
            let mut props = current.props.clone();
            let list = props.custom.entry("c_nodes".into()).or_insert_with(|| serde_json::json!([]));
            list.as_array_mut().unwrap().push(serde_json::json!(value));
            Ok((props, current.schema.clone()))
        })
    };
    // Both write, one after the other: each write starts from the other's.
    let from_b = b.modify_org(org.id, push("b"), None, now()).await.unwrap();
    let from_a = a.modify_org(org.id, push("a"), None, now()).await.unwrap();
    assert_eq!(from_a.version, from_b.version + 1);
    let from_b = b.modify_org(org.id, push("b again"), None, now()).await.unwrap();
    assert_eq!(from_b.version, from_a.version + 1);
    assert_eq!(from_b.props.custom["c_nodes"], serde_json::json!(["b", "a", "b again"]));
    let rename: OrgChange = Box::new(|current: &Org| {
        let mut props = current.props.clone();
        props.name = "Renamed on A".into();
        Ok((props, current.schema.clone()))
    });
    let renamed = a.modify_org(org.id, rename, None, now()).await.unwrap();
    assert_eq!(renamed.props.custom["c_nodes"], serde_json::json!(["b", "a", "b again"]));
    assert!(
        eventually(|| async { b.org_by_code("two-nodes").await.unwrap().unwrap().version == renamed.version }).await,
        "node B kept the old org"
    );
    assert_eq!(b.org_by_code("two-nodes").await.unwrap().unwrap().props.name, "Renamed on A");

    let admin = account_in(&a, "admin@two-nodes.example", None).await;
    a.insert_member(&Member::new(org.id, admin.id, vec![ADMINISTRATOR], now())).await.unwrap();
    let someone = account_in(&a, "someone@two-nodes.example", Some(&org)).await;
    let member = b.member_of(org.id, someone.id).await.unwrap().unwrap();
    let everyone = PageParams::default().validate(&["_id"]).unwrap();
    assert_eq!(b.list_members(org.id, &MemberFilter::default(), &everyone).await.unwrap().data.len(), 2);
    a.delete_member(org.id, member.id, admins(&[ADMINISTRATOR]), now()).await.unwrap();
    assert!(
        eventually(|| async { b.member_of(org.id, someone.id).await.unwrap().is_none() }).await,
        "node B kept a removed membership"
    );
    assert!(
        eventually(|| async {
            b.list_members(org.id, &MemberFilter::default(), &everyone).await.unwrap().data.len() == 1
        })
        .await,
        "node B kept a page of members with a removed one"
    );

    let session = session_in(&a, &org, &admin, 'd', now()).await;
    assert!(b.login_session_by_token_hash(&session.token_hash).await.unwrap().is_some());
    a.delete_login_session(session.id).await.unwrap();
    assert!(
        eventually(|| async { b.login_session_by_token_hash(&session.token_hash).await.unwrap().is_none() }).await,
        "node B kept a deleted session"
    );
}

/// A change that panics (a bug) writes nothing and stops nothing else: the next
/// change to the org lands.
#[expect(clippy::panic, reason = "the panic is what is tested")]
pub async fn a_change_that_panics_stops_only_itself(store: DynStore) {
    use orgbase_domain::store::OrgChange;

    let org = new_org("panics", "Panics", now());
    store.insert_org(&org, None).await.unwrap();
    let caller = Arc::clone(&store);
    let outcome = tokio::spawn(async move {
        let boom: OrgChange = Box::new(|_| panic!("a bug in a change"));
        caller.modify_org(org.id, boom, None, now()).await
    })
    .await;
    // The panic reaches the caller (PostgreSQL runs the change in the caller's
    // task) or becomes an error (SQLite runs it on the writer).
    assert!(matches!(outcome, Err(_) | Ok(Err(_))), "{outcome:?}");
    let rename: OrgChange = Box::new(|current: &Org| {
        let mut props = current.props.clone();
        props.name = "After the panic".into();
        Ok((props, current.schema.clone()))
    });
    let renamed = store.modify_org(org.id, rename, None, now()).await.unwrap();
    assert_eq!(renamed.version, org.version + 1);
    assert_eq!(store.org_by_id(org.id).await.unwrap().unwrap().props.name, "After the panic");
}

/// A write whose caller goes away (a timeout, a client that hung up) may still
/// commit; reads must then show it, not what was kept from before.
pub async fn abandoned_writes_do_not_leave_stale_reads(store: DynStore) {
    use orgbase_domain::store::OrgChange;

    let org = new_org("abandoned", "Abandoned", now());
    store.insert_org(&org, None).await.unwrap();
    for round in 0..20 {
        assert!(store.org_by_code("abandoned").await.unwrap().is_some());
        let writer = Arc::clone(&store);
        let write = tokio::spawn(async move {
            let rename: OrgChange = Box::new(move |current: &Org| {
                let mut props = current.props.clone();
                props.name = format!("Round {round}");
                Ok((props, current.schema.clone()))
            });
            writer.modify_org(org.id, rename, None, now()).await
        });
        // Give up on it at once, or a little later, as a timeout would.
        for _ in 0..round % 4 {
            tokio::task::yield_now().await;
        }
        write.abort();
        let agreed = eventually(|| async {
            let stored = store.org_by_id(org.id).await.unwrap().unwrap();
            store.org_by_code("abandoned").await.unwrap().unwrap().version == stored.version
        })
        .await;
        assert!(agreed, "round {round}: the cached org differs from the stored one");
    }
}

/// Now, to the millisecond (what both backends keep).
pub(crate) fn now_ms() -> DateTime<Utc> {
    let t = now();
    DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t)
}

/// Makes `account` a member of `org` with `roles`, joined at `at`; returns the membership.
pub(crate) async fn join(store: &DynStore, org: &Org, account: &Account, roles: &[Id], at: DateTime<Utc>) -> Member {
    let member = Member::new(org.id, account.id, roles.to_vec(), at);
    store.insert_member(&member).await.unwrap();
    member
}

/// Who takes part in a session, as (account, home org, permissions), owner first.
pub(crate) async fn taking_part(store: &DynStore, session: Id) -> (Id, Vec<(Id, Id, Permissions)>) {
    let s = store.live_session(session).await.unwrap().unwrap();
    (s.owner, s.participants.iter().map(|p| (p.account, p.home_org, p.permissions)).collect())
}

/// A removed member leaves the org's sessions in the same transaction: its
/// participations in the org's sessions and those that came in through the org go
/// (others stay), and the sessions it owns, ended ones too, pass to the acting
/// administrator, who takes part in them with every permission (once).
pub async fn a_removed_member_leaves_the_orgs_sessions(store: DynStore) {
    use orgbase_domain::roles::ADMINISTRATOR;
    let t = now_ms();
    let [a, b, c] = ["leave-a", "leave-b", "leave-c"].map(|code| new_org(code, code, t));
    for org in [&a, &b, &c] {
        store.insert_org(org, None).await.unwrap();
    }
    let first_admin = account_in(&store, "first@x.test", None).await;
    join(&store, &a, &first_admin, &[ADMINISTRATOR], t).await;
    let acting = account_in(&store, "acting@x.test", None).await;
    join(&store, &a, &acting, &[ADMINISTRATOR], t + Duration::seconds(1)).await;
    let mallory = account_in(&store, "mallory@x.test", None).await;
    let leaving = join(&store, &a, &mallory, &[], t + Duration::seconds(2)).await;
    join(&store, &b, &mallory, &[], t).await;
    let carl = account_in(&store, "carl@x.test", Some(&c)).await;

    // Mallory owns two of A's sessions (one ended, one where the acting admin
    // already takes part), takes part in a third, and in C's sessions through A
    // and through B.
    let owned = new_session(&a, &mallory, "owned", t);
    store.insert_live_session(&owned).await.unwrap();
    store.insert_participant(&Participant::new(owned.id, acting.id, a.id, drawer(), t)).await.unwrap();
    let ended = new_session(&a, &mallory, "ended", t);
    store.insert_live_session(&ended).await.unwrap();
    store.move_live_session(ended.id, SessionState::Live, t).await.unwrap();
    store.move_live_session(ended.id, SessionState::Ended, t).await.unwrap();
    let joined = new_session(&a, &first_admin, "joined", t);
    store.insert_live_session(&joined).await.unwrap();
    store.insert_participant(&Participant::new(joined.id, mallory.id, a.id, drawer(), t)).await.unwrap();
    let via_a = new_session(&c, &carl, "via a", t);
    store.insert_live_session(&via_a).await.unwrap();
    store.insert_participant(&Participant::new(via_a.id, mallory.id, a.id, drawer(), t)).await.unwrap();
    let via_b = new_session(&c, &carl, "via b", t);
    store.insert_live_session(&via_b).await.unwrap();
    store.insert_participant(&Participant::new(via_b.id, mallory.id, b.id, drawer(), t)).await.unwrap();

    let later = t + Duration::seconds(5);
    let by_acting = Admins { roles: &[ADMINISTRATOR], acting: Some(acting.id) };
    store.delete_member(a.id, leaving.id, by_acting, later).await.unwrap();

    let all = Permissions::ALL;
    assert_eq!(taking_part(&store, owned.id).await, (acting.id, vec![(acting.id, a.id, all)]));
    assert_eq!(taking_part(&store, ended.id).await, (acting.id, vec![(acting.id, a.id, all)]));
    let moved = store.live_session(owned.id).await.unwrap().unwrap();
    assert_eq!((moved.updated, moved.name.as_str(), moved.state), (later, "owned", SessionState::Scheduled));
    assert_eq!(taking_part(&store, joined.id).await, (first_admin.id, vec![(first_admin.id, a.id, all)]));
    assert_eq!(taking_part(&store, via_a.id).await, (carl.id, vec![(carl.id, c.id, all)]));
    assert_eq!(taking_part(&store, via_b.id).await.1[1], (mallory.id, b.id, drawer()));
    let everything = page_of(&[], SESSION_SORT_FIELDS);
    let mine =
        SessionQuery { scope: SessionScope::Participant(mallory.id), state: None, owner: None, participant: None };
    let listed: Vec<Id> =
        store.list_live_sessions(&mine, &everything).await.unwrap().data.iter().map(|s| s.id).collect();
    assert_eq!(listed, [via_b.id]);
}

/// A suspended member leaves the org's sessions as a removed one does; with no
/// administrator acting, its sessions pass to the earliest-joined active
/// administrator. A change refused by the last-administrator guard changes no
/// session either.
pub async fn a_suspended_member_leaves_the_orgs_sessions(store: DynStore) {
    use orgbase_domain::account::MemberState;
    use orgbase_domain::roles::ADMINISTRATOR;
    let t = now_ms();
    let org = new_org("suspend", "Suspend", t);
    store.insert_org(&org, None).await.unwrap();
    let late_admin = account_in(&store, "late@x.test", None).await;
    let late = join(&store, &org, &late_admin, &[ADMINISTRATOR], t + Duration::seconds(3)).await;
    let early_admin = account_in(&store, "early@x.test", None).await;
    let early = join(&store, &org, &early_admin, &[ADMINISTRATOR], t + Duration::seconds(1)).await;
    let mallory = account_in(&store, "mallory@x.test", None).await;
    let leaving = join(&store, &org, &mallory, &[], t + Duration::seconds(2)).await;
    let owned = new_session(&org, &mallory, "owned", t);
    store.insert_live_session(&owned).await.unwrap();
    let theirs = new_session(&org, &late_admin, "theirs", t);
    store.insert_live_session(&theirs).await.unwrap();
    store.insert_participant(&Participant::new(theirs.id, mallory.id, org.id, drawer(), t)).await.unwrap();

    // Roles alone change nothing about sessions.
    let nobody = Admins { roles: &[ADMINISTRATOR], acting: None };
    store.update_member(org.id, leaving.id, Some(&[]), None, nobody, t).await.unwrap();
    assert_eq!(taking_part(&store, owned.id).await.0, mallory.id);
    // Acting as the leaver itself (not an administrator) is as nobody acting.
    let itself = Admins { roles: &[ADMINISTRATOR], acting: Some(mallory.id) };
    let later = t + Duration::seconds(5);
    let suspended = store.update_member(org.id, leaving.id, None, Some(MemberState::Suspended), itself, later).await;
    assert_eq!(suspended.unwrap().state, MemberState::Suspended);
    assert_eq!(taking_part(&store, owned.id).await, (early_admin.id, vec![(early_admin.id, org.id, Permissions::ALL)]));
    assert_eq!(taking_part(&store, theirs.id).await.1.len(), 1);

    // The last active administrator cannot leave, and keeps its sessions.
    store.update_member(org.id, early.id, None, Some(MemberState::Suspended), nobody, later).await.unwrap();
    assert_eq!(taking_part(&store, owned.id).await.0, late_admin.id, "the sessions followed to the other admin");
    let refused = store.delete_member(org.id, late.id, nobody, later).await;
    assert!(matches!(refused, Err(StoreError::Invariant(_))), "{refused:?}");
    assert_eq!(taking_part(&store, owned.id).await, (late_admin.id, vec![(late_admin.id, org.id, Permissions::ALL)]));
    assert_eq!(taking_part(&store, theirs.id).await.0, late_admin.id);
}

/// A participant's list across orgs holds only the sessions it can reach: through
/// the owning org or the org it came in through, where it is an active member, in
/// an enabled org. A participant comes in only through an org where it is an
/// active member.
pub async fn a_participants_list_holds_only_reachable_sessions(store: DynStore) {
    let t = now_ms();
    let [a, b, c] = ["reach-a", "reach-b", "reach-c"].map(|code| new_org(code, code, t));
    for org in [&a, &b, &c] {
        store.insert_org(org, None).await.unwrap();
    }
    let alice = account_in(&store, "alice@x.test", Some(&a)).await;
    let bob = account_in(&store, "bob@x.test", Some(&b)).await;
    join(&store, &c, &bob, &[], t).await;
    let through_b = new_session(&a, &alice, "through b", t);
    let through_c = new_session(&a, &alice, "through c", t);
    for (s, home) in [(&through_b, &b), (&through_c, &c)] {
        store.insert_live_session(s).await.unwrap();
        store.insert_participant(&Participant::new(s.id, bob.id, home.id, drawer(), t)).await.unwrap();
    }
    let not_a_member = Participant::new(through_b.id, alice.id, b.id, drawer(), t);
    assert!(matches!(store.insert_participant(&not_a_member).await, Err(StoreError::NotFound)));
    let not_a_member = new_session(&b, &alice, "owned from outside", t);
    assert!(matches!(store.insert_live_session(&not_a_member).await, Err(StoreError::NotFound)));

    let everything = page_of(&[], SESSION_SORT_FIELDS);
    let bobs = SessionQuery { scope: SessionScope::Participant(bob.id), state: None, owner: None, participant: None };
    let names = |store: DynStore| async move {
        let page = store.list_live_sessions(&bobs, &everything).await.unwrap();
        page.data.iter().map(|s| s.name.clone()).collect::<Vec<_>>()
    };
    assert_eq!(names(store.clone()).await, ["through b", "through c"]);
    store.set_org_state(c.id, OrgState::Disabled, t).await.unwrap();
    assert_eq!(names(store.clone()).await, ["through b"]);
    // Through the owning org, membership there counts whatever the home org.
    join(&store, &a, &bob, &[], t).await;
    assert_eq!(names(store.clone()).await, ["through b", "through c"]);
}
