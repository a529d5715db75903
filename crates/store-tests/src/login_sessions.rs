//! Conformance of `LoginSessionStore` (login sessions and the nonces of signed
//! requests), of `RateLimitStore` under concurrent events, and of the `Store`
//! umbrella's own methods (`backend`, `ping`).

use chrono::Duration;
use futures::future::join_all;
use orgbase_domain::Id;
use orgbase_domain::account::LoginSession;
use orgbase_domain::rate::Quota;

use crate::{DynStore, account_in, new_org, now_ms, session_in};

/// A login session reads back as written; a touch slides it forward, a touch
/// older than the last one changes nothing, and of racing touches the latest
/// stands; a revoked session is gone.
pub async fn a_touch_slides_a_session_forward_never_back(store: DynStore) {
    let t = now_ms();
    let org = new_org("touches", "Touches", t);
    store.insert_org(&org, None).await.unwrap();
    let ann = account_in(&store, "ann@x.test", Some(&org)).await;
    let session = session_in(&store, &org, &ann, 'a', t).await;
    let other = session_in(&store, &org, &ann, 'b', t).await;
    assert_eq!(store.login_session_by_token_hash(&session.token_hash).await.unwrap(), Some(session.clone()));

    let read = |store: DynStore, token: String| async move {
        store.login_session_by_token_hash(&token).await.unwrap().unwrap()
    };
    let (seen, expires) = (t + Duration::minutes(10), t + Duration::hours(2));
    store.touch_login_session(session.id, seen, expires).await.unwrap();
    let touched = LoginSession { last_seen: seen, expires, ..session.clone() };
    assert_eq!(read(store.clone(), session.token_hash.clone()).await, touched);
    store.touch_login_session(session.id, t + Duration::minutes(5), t + Duration::hours(9)).await.unwrap();
    assert_eq!(read(store.clone(), session.token_hash.clone()).await, touched, "an older touch changes nothing");
    assert_eq!(read(store.clone(), other.token_hash.clone()).await, other, "other sessions are untouched");

    let touches = (1..=8).rev().map(|i| {
        let seen = t + Duration::minutes(10 + i);
        store.touch_login_session(session.id, seen, seen + Duration::hours(1))
    });
    for outcome in join_all(touches).await {
        outcome.unwrap();
    }
    let latest = t + Duration::minutes(18);
    let after = read(store.clone(), session.token_hash.clone()).await;
    assert_eq!((after.last_seen, after.expires), (latest, latest + Duration::hours(1)), "the latest touch stands");

    store.delete_login_session(session.id).await.unwrap();
    assert_eq!(store.login_session_by_token_hash(&session.token_hash).await.unwrap(), None);
    assert_eq!(read(store.clone(), other.token_hash.clone()).await, other, "only the revoked one goes");
    store.touch_login_session(session.id, latest + Duration::minutes(1), latest + Duration::hours(3)).await.unwrap();
    assert_eq!(store.login_session_by_token_hash(&session.token_hash).await.unwrap(), None, "a touch brings none back");
}

/// A nonce is accepted once per app, and once however many requests race with
/// it; racing requests with different nonces, pruning old ones on the way, are
/// all accepted.
pub async fn a_nonce_is_accepted_once_however_many_race(store: DynStore) {
    let t = now_ms();
    let (app, other_app) = (Id::from_u96(11), Id::from_u96(12));
    let window = t - Duration::minutes(5);
    assert!(store.record_nonce(app, "n-1", t, window).await.unwrap());
    assert!(!store.record_nonce(app, "n-1", t, window).await.unwrap(), "a replay");
    assert!(store.record_nonce(other_app, "n-1", t, window).await.unwrap(), "another app's nonce");

    for round in 0..4 {
        let nonce = format!("race-{round}");
        let outcomes = join_all((0..6).map(|_| store.record_nonce(app, &nonce, t, window))).await;
        let accepted = outcomes.iter().filter(|o| matches!(o, Ok(true))).count();
        assert_eq!(accepted, 1, "round {round}: {outcomes:?}");
        assert!(outcomes.iter().all(Result::is_ok), "round {round}: {outcomes:?}");
    }

    // Old nonces to prune, then many new ones at once, each pruning.
    for i in 0..30 {
        assert!(store.record_nonce(app, &format!("old-{i}"), t - Duration::hours(1), window).await.unwrap());
    }
    let names: Vec<String> = (0..12).map(|i| format!("new-{i}")).collect();
    let later = t + Duration::seconds(1);
    let outcomes = join_all(names.iter().map(|n| store.record_nonce(app, n, later, window))).await;
    assert!(outcomes.iter().all(|o| matches!(o, Ok(true))), "{outcomes:?}");
    assert!(store.record_nonce(app, "old-0", later, window).await.unwrap(), "pruned, so usable again");
    assert!(!store.record_nonce(app, "new-0", later, window).await.unwrap(), "kept: still a replay");
}

/// Events racing on one key are each counted once: exactly the burst gets
/// through, and the rest are told to wait.
pub async fn racing_events_on_one_key_are_each_counted_once(store: DynStore) {
    let quota = Quota::new(5, std::time::Duration::from_secs(60));
    let t = now_ms();
    for round in 0..3 {
        let key = format!("login:race-{round}");
        let outcomes = join_all((0..16).map(|_| store.rate_limit(&key, quota, t))).await;
        let allowed = outcomes.iter().filter(|o| matches!(o, Ok(None))).count();
        assert_eq!(allowed, 5, "round {round}: {outcomes:?}");
        assert!(outcomes.iter().all(|o| matches!(o, Ok(None) | Ok(Some(_)))), "round {round}: {outcomes:?}");
        assert!(store.rate_limit(&key, quota, t).await.unwrap().is_some(), "round {round}: the burst is spent");
    }
}

/// A store names its backend and answers a ping (`/readyz`).
pub async fn a_store_names_its_backend_and_answers_a_ping(store: DynStore, backend: &str) {
    assert_eq!(store.backend(), backend);
    store.ping().await.unwrap();
    // The ping is not a write that gets in the way of one.
    let org = new_org("pinged", "Pinged", now_ms());
    store.insert_org(&org, None).await.unwrap();
    store.ping().await.unwrap();
    assert!(store.org_by_code("pinged").await.unwrap().is_some());
}
