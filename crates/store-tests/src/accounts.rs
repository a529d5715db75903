//! Conformance of `AccountStore`: accounts by email and id, password changes, and
//! the mailed reset and verification tokens (each used once, before it expires,
//! however many requests race). Login sessions are only read here, to see which
//! ones a change ends; `login_sessions` owns their own contract.

use chrono::{DateTime, Duration, Utc};
use futures::future::join_all;
use orgbase_domain::account::{Account, Member, PersonName};
use orgbase_domain::email::Email;
use orgbase_domain::{Id, StoreError};

use crate::{DynStore, new_org, now_ms, session_in};

/// An account that is not stored yet: `email`, named `first last`, with `password`.
pub(crate) fn person(email: &str, first: &str, last: &str, password: Option<&str>, at: DateTime<Utc>) -> Account {
    let email = Email::parse("email", email).unwrap();
    Account::new(email, PersonName { first: first.into(), last: last.into() }, password.map(Into::into), at)
}

/// The account as stored now.
async fn stored(store: &DynStore, id: Id) -> Account {
    store.account_by_id(id).await.unwrap().unwrap()
}

/// An account reads back as written, by (normalised) email and by id; an email is
/// taken once, and an account refused for it brings no membership in.
pub async fn accounts_round_trip_and_emails_are_unique(store: DynStore) {
    let t = now_ms();
    let org = new_org("accounts", "Accounts", t);
    store.insert_org(&org, None).await.unwrap();
    let ann = person("Ann@X.test", "Ann", "Smith", Some("$argon2id$ann"), t).verified();
    let member = Member::new(org.id, ann.id, vec![], t);
    store.insert_account(&ann, Some(&member)).await.unwrap();
    assert_eq!(store.account_by_id(ann.id).await.unwrap(), Some(ann.clone()));
    let email = Email::parse("email", "ann@x.test").unwrap();
    assert_eq!(store.account_by_email(&email).await.unwrap(), Some(ann.clone()));
    assert_eq!(store.memberships_of(ann.id).await.unwrap(), vec![member]);
    let other = Email::parse("email", "nobody@x.test").unwrap();
    assert_eq!(store.account_by_email(&other).await.unwrap(), None);
    assert_eq!(store.account_by_id(Id::from_u96(41)).await.unwrap(), None);

    let twin = person("ann@x.test", "Another", "Ann", None, t);
    let twin_member = Member::new(org.id, twin.id, vec![], t);
    let refused = store.insert_account(&twin, Some(&twin_member)).await;
    assert!(matches!(refused, Err(StoreError::Exists(_))), "{refused:?}");
    assert_eq!(store.account_by_id(twin.id).await.unwrap(), None);
    assert!(store.memberships_of(twin.id).await.unwrap().is_empty(), "the refused account's membership stays out");
    assert_eq!(store.account_by_email(&email).await.unwrap(), Some(ann));
}

/// A password change keeps only the named session, and a reset link mailed before
/// it can no longer undo it. An unknown account is not found.
pub async fn a_password_change_keeps_one_session_and_voids_a_mailed_reset(store: DynStore) {
    let t = now_ms();
    let org = new_org("password", "Password", t);
    store.insert_org(&org, None).await.unwrap();
    let bob = person("bob@x.test", "Bob", "Jones", Some("$argon2id$old"), t);
    store.insert_account(&bob, None).await.unwrap();
    let kept = session_in(&store, &org, &bob, '1', t).await;
    let ended = session_in(&store, &org, &bob, '2', t).await;
    let reset = "a".repeat(64);
    store.set_reset_token(bob.id, &reset, t + Duration::hours(1)).await.unwrap();

    let later = t + Duration::minutes(1);
    store.set_password(bob.id, "$argon2id$new", Some(kept.id), later).await.unwrap();
    let now = stored(&store, bob.id).await;
    assert_eq!((now.password_hash.as_deref(), now.updated), (Some("$argon2id$new"), later));
    assert!(store.login_session_by_token_hash(&kept.token_hash).await.unwrap().is_some(), "the kept session stays");
    assert_eq!(store.login_session_by_token_hash(&ended.token_hash).await.unwrap(), None);
    assert_eq!(store.account_by_reset_token(&reset).await.unwrap(), None, "the mailed reset is void");
    assert_eq!(store.reset_password(&reset, "$argon2id$thief", later).await.unwrap(), None);
    assert_eq!(stored(&store, bob.id).await.password_hash.as_deref(), Some("$argon2id$new"));

    store.set_password(bob.id, "$argon2id$newer", None, later).await.unwrap();
    assert_eq!(store.login_session_by_token_hash(&kept.token_hash).await.unwrap(), None, "no session named: all end");
    let missing = store.set_password(Id::from_u96(42), "$argon2id$x", None, later).await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");
}

/// A reset token replaces the one before it and is found with its expiry; used
/// after it expires it changes nothing; used in time it sets the password,
/// verifies the email, clears both mailed tokens and ends every session, once.
pub async fn a_reset_token_works_once_before_it_expires(store: DynStore) {
    let t = now_ms();
    let org = new_org("reset", "Reset", t);
    store.insert_org(&org, None).await.unwrap();
    let carol = person("carol@x.test", "Carol", "King", Some("$argon2id$old"), t);
    store.insert_account(&carol, None).await.unwrap();
    let session = session_in(&store, &org, &carol, '3', t).await;
    let (first, second, verify) = ("b".repeat(64), "c".repeat(64), "d".repeat(64));
    let expires = t + Duration::hours(1);
    store.set_reset_token(carol.id, &first, expires).await.unwrap();
    store.set_reset_token(carol.id, &second, expires).await.unwrap();
    store.set_verify_token(carol.id, &verify, expires).await.unwrap();
    assert_eq!(store.account_by_reset_token(&first).await.unwrap(), None, "replaced by the second");
    assert_eq!(store.account_by_reset_token(&second).await.unwrap(), Some((carol.clone(), expires)));
    assert_eq!(store.reset_password(&first, "$argon2id$x", t).await.unwrap(), None);
    assert_eq!(store.reset_password(&"e".repeat(64), "$argon2id$x", t).await.unwrap(), None, "unknown");

    // Expired (at its expiry too): nothing changes.
    for at in [expires, expires + Duration::seconds(1)] {
        assert_eq!(store.reset_password(&second, "$argon2id$late", at).await.unwrap(), None);
    }
    assert_eq!(stored(&store, carol.id).await, carol);
    assert!(store.login_session_by_token_hash(&session.token_hash).await.unwrap().is_some());
    assert!(store.account_by_reset_token(&second).await.unwrap().is_some());

    let at = t + Duration::minutes(5);
    assert_eq!(store.reset_password(&second, "$argon2id$new", at).await.unwrap(), Some(carol.id));
    let now = stored(&store, carol.id).await;
    assert_eq!((now.password_hash.as_deref(), now.verified, now.updated), (Some("$argon2id$new"), true, at));
    assert_eq!(store.login_session_by_token_hash(&session.token_hash).await.unwrap(), None);
    assert_eq!(store.account_by_reset_token(&second).await.unwrap(), None);
    assert_eq!(store.account_by_verify_token(&verify).await.unwrap(), None, "a used link clears both kinds");
    assert_eq!(store.reset_password(&second, "$argon2id$again", at).await.unwrap(), None, "used");
    assert_eq!(store.verify_account(&verify, "$argon2id$again", at).await.unwrap(), None);
    assert_eq!(stored(&store, carol.id).await.password_hash.as_deref(), Some("$argon2id$new"));
}

/// A verification token replaces the one before it; used in time it verifies the
/// email and gives the account the password its holder chose (whoever registered
/// the address first loses it: every session ends), once. Expired, it changes
/// nothing.
pub async fn a_verification_token_works_once_before_it_expires(store: DynStore) {
    let t = now_ms();
    let org = new_org("verify", "Verify", t);
    store.insert_org(&org, None).await.unwrap();
    let dora = person("dora@x.test", "Dora", "Lee", Some("$argon2id$squatter"), t);
    store.insert_account(&dora, None).await.unwrap();
    let squatter = session_in(&store, &org, &dora, '4', t).await;
    let (first, second, reset) = ("f".repeat(64), "0".repeat(64), "9".repeat(64));
    let expires = t + Duration::hours(24);
    store.set_verify_token(dora.id, &first, expires).await.unwrap();
    store.set_verify_token(dora.id, &second, expires).await.unwrap();
    store.set_reset_token(dora.id, &reset, expires).await.unwrap();
    assert_eq!(store.account_by_verify_token(&first).await.unwrap(), None, "replaced by the second");
    assert_eq!(store.account_by_verify_token(&second).await.unwrap(), Some((dora.clone(), expires)));
    assert_eq!(store.account_by_reset_token(&second).await.unwrap(), None, "kinds are apart");
    assert_eq!(store.reset_password(&second, "$argon2id$x", t).await.unwrap(), None, "not a reset token");

    assert_eq!(store.verify_account(&second, "$argon2id$late", expires).await.unwrap(), None);
    assert_eq!(stored(&store, dora.id).await, dora, "an expired link changes nothing");

    let at = t + Duration::hours(1);
    assert_eq!(store.verify_account(&second, "$argon2id$mine", at).await.unwrap(), Some(dora.id));
    let now = stored(&store, dora.id).await;
    assert_eq!((now.password_hash.as_deref(), now.verified, now.updated), (Some("$argon2id$mine"), true, at));
    assert_eq!(store.login_session_by_token_hash(&squatter.token_hash).await.unwrap(), None);
    assert_eq!(store.account_by_verify_token(&second).await.unwrap(), None);
    assert_eq!(store.account_by_reset_token(&reset).await.unwrap(), None, "a used link clears both kinds");
    assert_eq!(store.verify_account(&second, "$argon2id$again", at).await.unwrap(), None, "used");
    assert_eq!(stored(&store, dora.id).await.password_hash.as_deref(), Some("$argon2id$mine"));
}

/// Requests racing with one mailed token: exactly one sets its password, and the
/// password stored is the winner's.
pub async fn racing_uses_of_one_mailed_token_let_exactly_one_through(store: DynStore) {
    let t = now_ms();
    let erin = person("erin@x.test", "Erin", "Moss", Some("$argon2id$old"), t);
    store.insert_account(&erin, None).await.unwrap();
    for round in 0..6_u32 {
        let token = format!("{round:064}");
        let verify = round % 2 == 1;
        if verify {
            store.set_verify_token(erin.id, &token, t + Duration::hours(1)).await.unwrap();
        } else {
            store.set_reset_token(erin.id, &token, t + Duration::hours(1)).await.unwrap();
        }
        let passwords: Vec<String> = (0..4).map(|i| format!("$argon2id$r{round}-{i}")).collect();
        let uses = passwords.iter().map(|hash| {
            let (store, token) = (store.clone(), token.clone());
            async move {
                if verify {
                    store.verify_account(&token, hash, t).await
                } else {
                    store.reset_password(&token, hash, t).await
                }
            }
        });
        let outcomes = join_all(uses).await;
        let winners: Vec<&String> =
            outcomes.iter().zip(&passwords).filter(|(o, _)| o.as_ref().unwrap().is_some()).map(|(_, p)| p).collect();
        assert_eq!(winners.len(), 1, "round {round}: {outcomes:?}");
        assert_eq!(stored(&store, erin.id).await.password_hash.as_ref(), Some(winners[0]), "round {round}");
    }
}
