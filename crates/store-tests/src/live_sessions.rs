//! Conformance of `LiveSessionStore` under races: a participant comes in only
//! while an active member of its home org, even when its removal or suspension
//! races the insert, and changes racing a session's end land before it or not at
//! all. (The rest of live sessions is in `lib.rs`.)

use chrono::Duration;
use orgbase_domain::StoreError;
use orgbase_domain::account::{Member, MemberState};
use orgbase_domain::live_session::{Participant, Permissions, SessionChanges, SessionState};
use orgbase_domain::roles::ADMINISTRATOR;

use crate::{DynStore, account_in, admins, drawer, join, new_org, new_session, now_ms};

/// A participant's insert racing its removal (or suspension) from its home org,
/// or a session's insert racing its owner's removal, never leaves it in: either
/// the insert is refused, or the removal takes it out (the session passes to an
/// administrator). Both calls answer as they would one after the other.
pub async fn a_participant_racing_its_removal_is_never_left_in(store: DynStore) {
    let t = now_ms();
    let [host, home] = ["race-host", "race-home"].map(|code| new_org(code, code, t));
    store.insert_org(&host, None).await.unwrap();
    store.insert_org(&home, None).await.unwrap();
    let alice = account_in(&store, "alice@x.test", Some(&host)).await;
    let carl = account_in(&store, "carl@x.test", None).await;
    join(&store, &home, &carl, &[ADMINISTRATOR], t).await;
    let bob = account_in(&store, "bob@x.test", None).await;
    let session = new_session(&host, &alice, "Racing", t);
    store.insert_live_session(&session).await.unwrap();
    let guard = admins(&[ADMINISTRATOR]);
    for round in 0..30 {
        let member = Member::new(home.id, bob.id, vec![], t);
        store.insert_member(&member).await.unwrap();
        let participant = Participant::new(session.id, bob.id, home.id, drawer(), t);
        let owned = new_session(&home, &bob, "Owned", t);
        let (inserted, left) = match round % 3 {
            0 => {
                tokio::join!(store.insert_participant(&participant), store.delete_member(home.id, member.id, guard, t))
            }
            1 => {
                let suspend = store.update_member(home.id, member.id, None, Some(MemberState::Suspended), guard, t);
                let (inserted, left) = tokio::join!(store.insert_participant(&participant), suspend);
                (inserted, left.map(drop))
            }
            _ => tokio::join!(store.insert_live_session(&owned), store.delete_member(home.id, member.id, guard, t)),
        };
        // What the store holds first: whatever the answers, a member that left is in
        // no session through the org it left.
        let active = store.member_of(home.id, bob.id).await.unwrap().is_some_and(|m| m.state == MemberState::Active);
        let joined = store.live_session(session.id).await.unwrap().unwrap();
        let in_session = joined.participants.iter().any(|p| p.account == bob.id);
        let owns = store.live_session(owned.id).await.unwrap().is_some_and(|s| s.owner == bob.id);
        assert!(active || !(in_session || owns), "round {round}: left in after leaving");
        assert!(matches!(inserted, Ok(()) | Err(StoreError::NotFound)), "round {round}: the insert: {inserted:?}");
        assert!(left.is_ok(), "round {round}: the removal: {left:?}");
        assert!(!active && !in_session && !owns, "round {round}: the member left");
        if round % 3 == 1 {
            store.delete_member(home.id, member.id, guard, t).await.unwrap();
        }
    }
}

/// Changes racing a session's end: the end wins, and a change either landed
/// before it or is refused (`Conflict`), never written after; the same account
/// added twice at once takes part once (`Exists` for the other).
pub async fn changes_racing_a_sessions_end_land_before_it_or_not_at_all(store: DynStore) {
    let t = now_ms();
    let org = new_org("race-end", "Race End", t);
    store.insert_org(&org, None).await.unwrap();
    let alice = account_in(&store, "alice@x.test", Some(&org)).await;
    let bob = account_in(&store, "bob@x.test", Some(&org)).await;
    for round in 0..8 {
        let session = new_session(&org, &alice, "Before", t);
        store.insert_live_session(&session).await.unwrap();
        store.move_live_session(session.id, SessionState::Live, t).await.unwrap();
        let twice = [0, 1].map(|_| Participant::new(session.id, bob.id, org.id, drawer(), t));
        let (one, two) = tokio::join!(store.insert_participant(&twice[0]), store.insert_participant(&twice[1]));
        assert_eq!(u8::from(one.is_ok()) + u8::from(two.is_ok()), 1, "round {round}: {one:?} {two:?}");
        assert!(matches!((&one, &two), (Err(StoreError::Exists(_)), _) | (_, Err(StoreError::Exists(_)))));

        let rename = SessionChanges { name: Some("After".into()), ..SessionChanges::default() };
        let later = t + Duration::minutes(1);
        let (renamed, permitted, ended) = tokio::join!(
            store.update_live_session(session.id, &rename, later),
            store.update_participant(session.id, bob.id, Permissions::ALL, later),
            store.move_live_session(session.id, SessionState::Ended, later)
        );
        ended.unwrap();
        let now = store.live_session(session.id).await.unwrap().unwrap();
        assert_eq!(now.state, SessionState::Ended, "round {round}");
        match renamed {
            Ok(_) => assert_eq!(now.name, "After", "round {round}: a change that answered Ok landed"),
            Err(e) => {
                assert!(matches!(e, StoreError::Conflict(_)), "round {round}: {e:?}");
                assert_eq!(now.name, "Before", "round {round}: a refused change wrote nothing");
            }
        }
        let bobs = now.participants.iter().find(|p| p.account == bob.id).map(|p| p.permissions);
        match permitted {
            Ok(_) => assert_eq!(bobs, Some(Permissions::ALL), "round {round}"),
            Err(e) => {
                assert!(matches!(e, StoreError::Conflict(_)), "round {round}: {e:?}");
                assert_eq!(bobs, Some(drawer()), "round {round}");
            }
        }
    }
}
