//! Conformance of the `AppStore` writes: an app's changes (settings, a rotated
//! secret and its grace) read back as written, through the cache too, and stay
//! in their org; a deleted app is gone, once.

use chrono::Duration;
use orgbase_domain::StoreError;
use orgbase_domain::app::{ActAs, App, AppChange, RawAppChange};

use crate::{DynStore, new_org, now_ms};

/// Every changeable part of an app is written and read back (by key and in the
/// org's list, after both were read once so that a cache holds them), a rotated
/// secret keeps its previous one with its end, and an app is changed or deleted
/// only through its own org.
pub async fn apps_change_rotate_and_go_only_in_their_org(store: DynStore) {
    let t = now_ms();
    let org = new_org("managed-apps", "Managed", t);
    let other = new_org("other-apps", "Other", t);
    store.insert_org(&org, None).await.unwrap();
    store.insert_org(&other, None).await.unwrap();
    let app = App::new(org.id, "web".into(), vec!["https://a.example".into()], t);
    let kept = App::new(org.id, "kept".into(), vec![], t);
    store.insert_app(&app).await.unwrap();
    store.insert_app(&kept).await.unwrap();
    // Read once, so that a cache holds both answers before the change.
    assert_eq!(store.app_by_key(&app.key).await.unwrap().as_deref(), Some(&app));
    assert_eq!(store.apps_of_org(org.id).await.unwrap().len(), 2);

    let change = AppChange::parse(RawAppChange {
        name: Some("renamed".into()),
        origins: Some(vec!["https://b.example".into()]),
        csrf: Some(false),
        enabled: Some(false),
        require_signature_v2: Some(true),
        act_as: Some(serde_json::json!(["000000000000000000000007"])),
    })
    .unwrap();
    let changed = app.changed(change).rotated(t, Duration::hours(24));
    store.update_app(&changed).await.unwrap();
    let read = store.app_by_key(&app.key).await.unwrap().unwrap();
    assert_eq!(*read, changed);
    assert_eq!((read.name.as_str(), read.csrf, read.enabled), ("renamed", false, false));
    assert!(matches!(read.act_as, ActAs::Only(ref ids) if ids.len() == 1));
    let previous = read.previous_secret.as_ref().unwrap();
    assert_eq!((previous.secret.as_str(), previous.until), (app.secret.as_str(), t + Duration::hours(24)));
    assert_eq!(store.apps_of_org(org.id).await.unwrap(), vec![changed.clone(), kept.clone()]);
    // Without a grace the previous secret is cleared.
    let again = changed.rotated(t, Duration::zero());
    store.update_app(&again).await.unwrap();
    assert_eq!(store.app_by_key(&app.key).await.unwrap().unwrap().previous_secret, None);

    // Another org's id does not reach it.
    let foreign = App { org: other.id, name: "stolen".into(), ..again.clone() };
    assert!(matches!(store.update_app(&foreign).await.unwrap_err(), StoreError::NotFound));
    assert!(!store.delete_app(other.id, app.id).await.unwrap());
    assert_eq!(store.app_by_key(&app.key).await.unwrap().as_deref(), Some(&again));

    assert!(store.delete_app(org.id, app.id).await.unwrap());
    assert_eq!(store.app_by_key(&app.key).await.unwrap(), None);
    assert_eq!(store.apps_of_org(org.id).await.unwrap(), vec![kept]);
    assert!(!store.delete_app(org.id, app.id).await.unwrap());
    assert!(matches!(store.update_app(&again).await.unwrap_err(), StoreError::NotFound));
}

/// Resealing leaves sealed secrets alone without an old key, and with one (here
/// a key that sealed nothing, as on a second run of a rotation) seals every app
/// again, which then reads back the same, previous secret included.
pub async fn app_secrets_reseal_and_read_back_the_same(store: DynStore) {
    let t = now_ms();
    let org = new_org("resealed", "Resealed", t);
    store.insert_org(&org, None).await.unwrap();
    let plain = App::new(org.id, "plain".into(), vec![], t);
    let rotated = App::new(org.id, "rotated".into(), vec![], t).rotated(t, Duration::hours(1));
    store.insert_app(&plain).await.unwrap();
    store.insert_app(&rotated).await.unwrap();
    assert_eq!(store.reseal_app_secrets(None).await.unwrap(), 0);
    let elsewhere = orgbase_domain::sealed::SecretKey::generate();
    assert_eq!(store.reseal_app_secrets(Some(&elsewhere)).await.unwrap(), 2);
    assert_eq!(store.apps_of_org(org.id).await.unwrap(), vec![plain.clone(), rotated.clone()]);
    assert_eq!(store.app_by_key(&rotated.key).await.unwrap().as_deref(), Some(&rotated));
}
