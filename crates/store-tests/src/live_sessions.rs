//! Conformance of `LiveSessionStore` where it meets `MemberStore`: a participant
//! comes in only while an active member of its home org, even when its removal
//! or suspension races the insert. (The rest of live sessions is in `lib.rs`.)

use orgbase_domain::StoreError;
use orgbase_domain::account::{Member, MemberState};
use orgbase_domain::org::ADMINISTRATOR;
use orgbase_domain::session::Participant;

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
