//! ONE conformance suite for the storage port, run against every backend
//! (`tests/conformance.rs`). A backend is correct when these pass; the API suite in
//! `server` then only tests HTTP behaviour on top.

#![expect(clippy::unwrap_used, reason = "a test suite: a failed unwrap is a failed test")]

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use orgbase_domain::app::App;
use orgbase_domain::org::{NewOrg, Org, OrgState};
use orgbase_domain::paging::{PageParams, PageRequest};
use orgbase_domain::store::{ORG_SORT_FIELDS, Store};
use orgbase_domain::{Clock, Id, StoreError, SystemClock};

/// A store under test.
pub type DynStore = Arc<dyn Store>;

fn now() -> DateTime<Utc> {
    SystemClock.now()
}

fn new_org(code: &str, name: &str, at: DateTime<Utc>) -> Org {
    Org::create(NewOrg { code: code.into(), name: name.into(), locale: None, tz: Some("US/Pacific".into()) }, at)
        .unwrap()
}

fn page(pairs: &[(&str, String)]) -> PageRequest {
    let get = |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone());
    PageParams {
        limit: get("limit"),
        skip: get("skip"),
        starting_after: get("after"),
        ending_before: get("before"),
        sort: get("sort"),
    }
    .validate(ORG_SORT_FIELDS)
    .unwrap()
}

/// An org reads back exactly as written, by code and by id.
pub async fn orgs_round_trip(store: DynStore) {
    let mut org = new_org("round-trip", "Round Trip", now());
    org.props.custom.insert("c_numbers".into(), serde_json::json!([1, 2, 3]));
    org.props.security.allow_external_participants = true;
    store.insert_org(&org, None).await.unwrap();
    assert_eq!(store.org_by_code("round-trip").await.unwrap(), Some(org.clone()));
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
    assert_eq!(store.app_by_key(&a.key).await.unwrap(), Some(a.clone()));
    assert_eq!(store.app_by_key("nope").await.unwrap(), None);
    assert_eq!(store.apps_of_org(org.id).await.unwrap(), vec![a.clone(), b]);
    let mut clash = App::new(org.id, "clash".into(), vec![], now());
    clash.key = a.key.clone();
    assert!(matches!(store.insert_app(&clash).await.unwrap_err(), StoreError::Exists(_)));
}
