//! Conformance of `ConnectionStore`: invitations, unique per pending email, listed
//! by state, reissued and closed only while pending, and accepted once (by a new,
//! an existing or a reclaimed account), however many acceptances race.

use chrono::{DateTime, Duration, Utc};
use futures::future::join_all;
use orgbase_domain::account::{Account, PersonName};
use orgbase_domain::connection::{Connection, ConnectionState};
use orgbase_domain::email::Email;
use orgbase_domain::org::Org;
use orgbase_domain::paging::PageRequest;
use orgbase_domain::roles::PROVIDER;
use orgbase_domain::store::Acceptance;
use orgbase_domain::{Id, StoreError};

use crate::accounts::person;
use crate::{DynStore, account_in, new_org, now_ms, page_of, session_in};

/// A pending invitation of `email` to `org` with the provider role, stored.
async fn invite(store: &DynStore, org: &Org, email: &str, at: DateTime<Utc>, expires: DateTime<Utc>) -> Connection {
    let email = Email::parse("email", email).unwrap();
    let (connection, _) = Connection::new(org.id, email, Some("Invitee".into()), vec![PROVIDER], None, expires, at);
    store.insert_connection(&connection).await.unwrap();
    connection
}

async fn reread(store: &DynStore, c: &Connection) -> Connection {
    store.connection_by_id(c.org, c.id).await.unwrap().unwrap()
}

/// One pending invitation per email and org, none for a member's email; found by
/// id in its org and by token; listed by state with keyset paging; reissued (the
/// old token dies) and closed (the token dies) only while pending.
pub async fn invitations_are_unique_listed_reissued_and_closed(store: DynStore) {
    let t = now_ms();
    let org = new_org("invitations", "Invitations", t);
    let other = new_org("other-invitations", "Other", t);
    store.insert_org(&org, None).await.unwrap();
    store.insert_org(&other, None).await.unwrap();
    let week = t + Duration::days(7);
    let first = invite(&store, &org, "first@x.test", t, week).await;
    let second = invite(&store, &org, "second@x.test", t + Duration::seconds(1), week).await;
    let third = invite(&store, &org, "third@x.test", t + Duration::seconds(2), week).await;
    invite(&store, &other, "first@x.test", t, week).await;
    let (twin, _) = Connection::new(org.id, first.email.clone(), None, vec![], None, week, t);
    assert!(matches!(store.insert_connection(&twin).await, Err(StoreError::Exists(_))), "one pending per email");
    account_in(&store, "member@x.test", Some(&org)).await;
    let member_email = Email::parse("email", "member@x.test").unwrap();
    let (for_member, _) = Connection::new(org.id, member_email, None, vec![], None, week, t);
    assert!(matches!(store.insert_connection(&for_member).await, Err(StoreError::Exists(_))), "a member's email");
    assert_eq!(store.connection_by_id(org.id, for_member.id).await.unwrap(), None);

    assert_eq!(reread(&store, &first).await, first);
    assert_eq!(store.connection_by_id(other.id, first.id).await.unwrap(), None, "another org's id finds nothing");
    let token = first.token_hash.clone().unwrap();
    assert_eq!(store.connection_by_token(&token).await.unwrap(), Some(first.clone()));
    assert_eq!(store.connection_by_token(&"7".repeat(64)).await.unwrap(), None);

    let later = t + Duration::minutes(1);
    let declined = store.close_connection(org.id, second.id, ConnectionState::Declined, later).await.unwrap();
    let expected = Connection { state: ConnectionState::Declined, token_hash: None, updated: later, ..second.clone() };
    assert_eq!(declined, expected);
    assert_eq!(reread(&store, &second).await, expected);
    assert_eq!(store.connection_by_token(second.token_hash.as_deref().unwrap()).await.unwrap(), None);
    for (org_id, id) in [(org.id, second.id), (other.id, third.id), (org.id, Id::from_u96(45))] {
        let refused = store.close_connection(org_id, id, ConnectionState::Revoked, later).await;
        assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    }
    assert_eq!(reread(&store, &third).await, third, "a refused close changes nothing");
    let again = invite(&store, &org, "second@x.test", later, week).await;

    let all = page_of(&[], &["_id"]);
    let ids = |state: Option<ConnectionState>, page: PageRequest| {
        let store = store.clone();
        async move {
            let page = store.list_connections(org.id, state, &page).await.unwrap();
            (page.data.iter().map(|c| c.id).collect::<Vec<_>>(), page.has_more)
        }
    };
    assert_eq!(ids(None, all).await, (vec![first.id, second.id, third.id, again.id], false));
    assert_eq!(ids(Some(ConnectionState::Pending), all).await, (vec![first.id, third.id, again.id], false));
    assert_eq!(ids(Some(ConnectionState::Declined), all).await, (vec![second.id], false));
    assert_eq!(ids(Some(ConnectionState::Revoked), all).await, (vec![], false));
    let two = page_of(&[("limit", "2".into())], &["_id"]);
    assert_eq!(ids(None, two).await, (vec![first.id, second.id], true));
    let after = page_of(&[("limit", "2".into()), ("after", second.id.to_string())], &["_id"]);
    assert_eq!(ids(None, after).await, (vec![third.id, again.id], false));
    let pending_after = page_of(&[("limit", "1".into()), ("after", first.id.to_string())], &["_id"]);
    assert_eq!(ids(Some(ConnectionState::Pending), pending_after).await, (vec![third.id], true));

    let fresh = "8".repeat(64);
    let month = t + Duration::days(30);
    let reissued = store.reissue_connection(org.id, first.id, &fresh, month, later).await.unwrap();
    let expected = Connection { token_hash: Some(fresh.clone()), expires: month, updated: later, ..first.clone() };
    assert_eq!(reissued, expected);
    assert_eq!(store.connection_by_token(&token).await.unwrap(), None, "the old token dies");
    assert_eq!(store.connection_by_token(&fresh).await.unwrap(), Some(expected));
    for (org_id, id) in [(org.id, second.id), (other.id, first.id), (org.id, Id::from_u96(46))] {
        let refused = store.reissue_connection(org_id, id, &"6".repeat(64), month, later).await;
        assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    }
    assert_eq!(reread(&store, &second).await.token_hash, None, "a closed invitation gets no token");
}

/// Accepting with a new account inserts it verified and makes it a member with
/// the invitation's roles, once; an expired invitation is not found and leaves no
/// account behind.
pub async fn accepting_registers_a_new_account_once(store: DynStore) {
    let t = now_ms();
    let org = new_org("accept-new", "Accept New", t);
    store.insert_org(&org, None).await.unwrap();
    let invitation = invite(&store, &org, "new@x.test", t, t + Duration::days(1)).await;
    let token = invitation.token_hash.clone().unwrap();
    let newcomer = person("new@x.test", "New", "Comer", Some("$argon2id$n"), t);
    let at = t + Duration::minutes(1);
    let member = store.accept_connection(&token, &newcomer, &Acceptance::Register, at).await.unwrap();
    assert_eq!((member.org, member.account, member.roles.clone()), (org.id, newcomer.id, vec![PROVIDER]));
    assert_eq!(store.member_of(org.id, newcomer.id).await.unwrap(), Some(member));
    assert_eq!(store.account_by_id(newcomer.id).await.unwrap(), Some(newcomer.clone().verified()));
    let accepted = reread(&store, &invitation).await;
    let expected = Connection {
        state: ConnectionState::Accepted,
        token_hash: None,
        account: Some(newcomer.id),
        updated: at,
        ..invitation.clone()
    };
    assert_eq!(accepted, expected);
    assert!(!store.has_pending_connection(org.id, Some(&invitation.email), at).await.unwrap());
    let twice = person("new2@x.test", "New", "Again", None, t);
    let again = store.accept_connection(&token, &twice, &Acceptance::Register, at).await;
    assert!(matches!(again, Err(StoreError::NotFound)), "{again:?}");
    assert_eq!(store.account_by_id(twice.id).await.unwrap(), None, "a refused acceptance inserts no account");

    let expiring = invite(&store, &org, "late@x.test", t, t + Duration::hours(1)).await;
    let late = person("late@x.test", "Late", "Comer", None, t);
    let expired = expiring.token_hash.as_deref().unwrap();
    let refused = store.accept_connection(expired, &late, &Acceptance::Register, t + Duration::hours(1)).await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    assert_eq!(store.account_by_id(late.id).await.unwrap(), None, "no account left behind");
    assert_eq!(reread(&store, &expiring).await, expiring, "still pending");
}

/// Accepting as an existing account marks it verified; an account that was not
/// verified loses its sessions but the acceptor's. A reclaim gives an unverified
/// account the acceptor's name and password and ends every session, and is
/// refused once the account is verified. A refused acceptance changes nothing.
pub async fn accepting_as_an_existing_or_reclaimed_account(store: DynStore) {
    let t = now_ms();
    let org = new_org("accept-old", "Accept Old", t);
    store.insert_org(&org, None).await.unwrap();
    let day = t + Duration::days(1);
    let at = t + Duration::minutes(1);

    // Existing, unverified: its other sessions end.
    let ann = person("ann@x.test", "Ann", "Smith", Some("$argon2id$a"), t);
    store.insert_account(&ann, None).await.unwrap();
    let (kept, ended) = (session_in(&store, &org, &ann, '1', t).await, session_in(&store, &org, &ann, '2', t).await);
    let invitation = invite(&store, &org, "ann@x.test", t, day).await;
    let token = invitation.token_hash.as_deref().unwrap();
    let member = store.accept_connection(token, &ann, &Acceptance::Existing { keep: Some(kept.id) }, at).await;
    assert_eq!(member.unwrap().account, ann.id);
    assert!(store.account_by_id(ann.id).await.unwrap().unwrap().verified);
    assert!(store.login_session_by_token_hash(&kept.token_hash).await.unwrap().is_some());
    assert_eq!(store.login_session_by_token_hash(&ended.token_hash).await.unwrap(), None);

    // Existing, verified: its sessions stay.
    let bob = person("bob@x.test", "Bob", "Jones", Some("$argon2id$b"), t).verified();
    store.insert_account(&bob, None).await.unwrap();
    let bobs = session_in(&store, &org, &bob, '3', t).await;
    let invitation = invite(&store, &org, "bob@x.test", t, day).await;
    let token = invitation.token_hash.as_deref().unwrap();
    store.accept_connection(token, &bob, &Acceptance::Existing { keep: None }, at).await.unwrap();
    assert!(store.login_session_by_token_hash(&bobs.token_hash).await.unwrap().is_some());
    assert_eq!(store.account_by_id(bob.id).await.unwrap(), Some(bob.clone()));

    // Existing, but unknown.
    let invitation = invite(&store, &org, "ghost@x.test", t, day).await;
    let ghost = person("ghost@x.test", "Gho", "St", None, t);
    let token = invitation.token_hash.as_deref().unwrap();
    let refused = store.accept_connection(token, &ghost, &Acceptance::Existing { keep: None }, at).await;
    assert!(matches!(refused, Err(StoreError::NotFound)), "{refused:?}");
    assert_eq!(reread(&store, &invitation).await, invitation);

    // Existing, unverified, and a member meanwhile: refused, and its sessions and
    // its unverified state stay.
    let cleo = person("cleo@x.test", "Cleo", "Park", Some("$argon2id$c"), t);
    store.insert_account(&cleo, None).await.unwrap();
    let cleos = session_in(&store, &org, &cleo, '4', t).await;
    let invitation = invite(&store, &org, "cleo@x.test", t, day).await;
    crate::join(&store, &org, &cleo, &[], t).await;
    let token = invitation.token_hash.as_deref().unwrap();
    let refused = store.accept_connection(token, &cleo, &Acceptance::Existing { keep: None }, at).await;
    assert!(matches!(refused, Err(StoreError::Exists(_))), "{refused:?}");
    assert_eq!(reread(&store, &invitation).await, invitation, "still pending");
    assert_eq!(store.account_by_id(cleo.id).await.unwrap(), Some(cleo.clone()), "still unverified");
    assert!(store.login_session_by_token_hash(&cleos.token_hash).await.unwrap().is_some(), "its session stays");

    // Reclaim.
    let squatted = person("dora@x.test", "Squat", "Ter", Some("$argon2id$squatter"), t);
    store.insert_account(&squatted, None).await.unwrap();
    let squatters = session_in(&store, &org, &squatted, '5', t).await;
    let invitation = invite(&store, &org, "dora@x.test", t, day).await;
    let token = invitation.token_hash.as_deref().unwrap();
    let name = PersonName { first: "Dora".into(), last: "Lee".into() };
    let how = Acceptance::Reclaim { password_hash: "$argon2id$dora".into(), name: name.clone() };
    let member = store.accept_connection(token, &squatted, &how, at).await.unwrap();
    assert_eq!((member.account, member.roles), (squatted.id, vec![PROVIDER]));
    let reclaimed = store.account_by_id(squatted.id).await.unwrap().unwrap();
    let expected =
        Account { name, password_hash: Some("$argon2id$dora".into()), verified: true, updated: at, ..squatted };
    assert_eq!(reclaimed, expected);
    assert_eq!(store.login_session_by_token_hash(&squatters.token_hash).await.unwrap(), None);

    // Reclaim of an account verified meanwhile.
    let invitation = invite(&store, &org, "erin@x.test", t, day).await;
    let erin = person("erin@x.test", "Erin", "Moss", Some("$argon2id$e"), t).verified();
    store.insert_account(&erin, None).await.unwrap();
    let token = invitation.token_hash.as_deref().unwrap();
    let how = Acceptance::Reclaim { password_hash: "$argon2id$thief".into(), name: erin.name.clone() };
    let refused = store.accept_connection(token, &erin, &how, at).await;
    assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
    assert_eq!(store.account_by_id(erin.id).await.unwrap(), Some(erin.clone()), "the password stays");
    assert_eq!(reread(&store, &invitation).await, invitation, "still pending");
    assert_eq!(store.member_of(org.id, erin.id).await.unwrap(), None);
}

/// Acceptances of one invitation racing each other (by different accounts, or
/// registering one address twice): exactly one wins, and one member results.
pub async fn racing_acceptances_of_one_invitation_let_exactly_one_through(store: DynStore) {
    let t = now_ms();
    let day = t + Duration::days(1);
    for round in 0..6 {
        let org = new_org(&format!("race-accept-{round}"), "Race", t);
        store.insert_org(&org, None).await.unwrap();
        let invitation = invite(&store, &org, &format!("invitee{round}@x.test"), t, day).await;
        let token = invitation.token_hash.clone().unwrap();
        let register = round % 2 == 1;
        let mut acceptors = Vec::new();
        for i in 0..4 {
            let email = if register { invitation.email.to_string() } else { format!("a{i}-{round}@x.test") };
            let account = person(&email, "Racing", "Acceptor", None, t).verified();
            if !register {
                store.insert_account(&account, None).await.unwrap();
            }
            acceptors.push(account);
        }
        let how = if register { Acceptance::Register } else { Acceptance::Existing { keep: None } };
        let outcomes =
            join_all(acceptors.iter().map(|account| store.accept_connection(&token, account, &how, t))).await;
        let winners: Vec<&Account> =
            outcomes.iter().zip(&acceptors).filter(|(o, _)| o.is_ok()).map(|(_, a)| a).collect();
        assert_eq!(winners.len(), 1, "round {round}: {outcomes:?}");
        let accepted = reread(&store, &invitation).await;
        assert_eq!((accepted.state, accepted.account), (ConnectionState::Accepted, Some(winners[0].id)));
        let mut members = 0;
        for account in &acceptors {
            members += usize::from(store.member_of(org.id, account.id).await.unwrap().is_some());
        }
        assert_eq!(members, 1, "round {round}");
        if register {
            let email = Email::parse("email", &invitation.email.to_string()).unwrap();
            let stored = store.account_by_email(&email).await.unwrap().map(|a| a.id);
            assert_eq!(stored, Some(winners[0].id), "round {round}: the winner's account only");
        }
    }
}

/// An acceptance racing the invitation's revocation or reissue, and two
/// invitations of one address racing each other: exactly one of each pair wins,
/// and the invitation ends as the winner left it.
pub async fn an_acceptance_racing_a_revocation_or_reissue_lets_one_win(store: DynStore) {
    let t = now_ms();
    let day = t + Duration::days(1);
    let org = new_org("race-close", "Race Close", t);
    store.insert_org(&org, None).await.unwrap();
    for round in 0..8 {
        let invitee = person(&format!("invitee{round}@x.test"), "In", "Vitee", None, t).verified();
        store.insert_account(&invitee, None).await.unwrap();
        let (invitation, _) = Connection::new(org.id, invitee.email.clone(), None, vec![], None, day, t);
        let (twin, _) = Connection::new(org.id, invitee.email.clone(), None, vec![], None, day, t);
        let (one, two) = tokio::join!(store.insert_connection(&invitation), store.insert_connection(&twin));
        assert_eq!(u8::from(one.is_ok()) + u8::from(two.is_ok()), 1, "round {round}: {one:?} {two:?}");
        assert!(matches!((&one, &two), (Err(StoreError::Exists(_)), _) | (_, Err(StoreError::Exists(_)))));
        let invitation = if one.is_ok() { invitation } else { twin };
        let token = invitation.token_hash.clone().unwrap();
        let fresh = format!("{round:x>64}");
        let how = Acceptance::Existing { keep: None };
        let accept = store.accept_connection(&token, &invitee, &how, t);
        let (accepted, other) = if round % 2 == 0 {
            let revoke = store.close_connection(org.id, invitation.id, ConnectionState::Revoked, t);
            let (accepted, revoked) = tokio::join!(accept, revoke);
            (accepted, revoked.map(drop))
        } else {
            let reissue = store.reissue_connection(org.id, invitation.id, &fresh, day, t);
            let (accepted, reissued) = tokio::join!(accept, reissue);
            (accepted, reissued.map(drop))
        };
        assert_eq!(u8::from(accepted.is_ok()) + u8::from(other.is_ok()), 1, "round {round}: {accepted:?} {other:?}");
        assert!(matches!((&accepted, &other), (Err(StoreError::NotFound), _) | (_, Err(StoreError::NotFound))));
        let now = reread(&store, &invitation).await;
        let member = store.member_of(org.id, invitee.id).await.unwrap();
        match (accepted.is_ok(), round % 2 == 0) {
            (true, _) => {
                assert_eq!(
                    (now.state, now.token_hash, now.account),
                    (ConnectionState::Accepted, None, Some(invitee.id))
                );
                assert!(member.is_some(), "round {round}");
            }
            (false, true) => {
                assert_eq!((now.state, now.token_hash), (ConnectionState::Revoked, None), "round {round}");
                assert_eq!(member, None, "round {round}");
            }
            (false, false) => {
                assert_eq!((now.state, now.token_hash.as_deref()), (ConnectionState::Pending, Some(fresh.as_str())));
                assert_eq!(member, None, "round {round}");
                store.accept_connection(&fresh, &invitee, &how, t).await.unwrap();
            }
        }
    }
}
