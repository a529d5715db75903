//! Conformance of `MemberStore` (and of `OrgStore::insert_org` with a first
//! administrator): linking by email and bulk import, the member list's filters and
//! paging, and the last-administrator guard, also when changes race.

use chrono::{DateTime, Duration, Utc};
use futures::future::join_all;
use orgbase_domain::account::{Account, MemberEntry, MemberState};
use orgbase_domain::connection::Connection;
use orgbase_domain::email::Email;
use orgbase_domain::org::Org;
use orgbase_domain::paging::Page;
use orgbase_domain::roles::{ADMINISTRATOR, PROVIDER, SUPPORT};
use orgbase_domain::store::{Admins, LinkRequest, Linked, MemberFilter};
use orgbase_domain::{Id, StoreError};

use crate::accounts::person;
use crate::{DynStore, admins, join, new_org, now_ms, page_of};

/// An operator's request to link `email` with `roles`; the invitation expires in a week.
pub(crate) fn link_request(org: &Org, email: &str, roles: &[Id], at: DateTime<Utc>) -> LinkRequest {
    let email_id = Email::parse("email", email).unwrap();
    let (invitation, _) = Connection::new(org.id, email_id, None, roles.to_vec(), None, at + Duration::days(7), at);
    LinkRequest { account: person(email, "Linked", "Person", None, at), roles: roles.to_vec(), invitation }
}

async fn by_email(store: &DynStore, email: &str) -> Option<Account> {
    store.account_by_email(&Email::parse("email", email).unwrap()).await.unwrap()
}

/// Linking by email: a new address becomes a verified account and a member, so
/// does a verified account; an unverified one is invited instead (once), and a
/// member stays as it is. An org's first administrator is linked the same way in
/// the org's insert, and a refused insert links nobody.
#[expect(clippy::panic, reason = "a test: another outcome than the one expected fails it")]
pub async fn linking_by_email_makes_members_and_invites_unverified_accounts(store: DynStore) {
    let t = now_ms();
    let org = new_org("linking", "Linking", t);
    store.insert_org(&org, None).await.unwrap();

    let fresh = link_request(&org, "fresh@x.test", &[PROVIDER], t);
    let Linked::Member(member, account) = store.link_member(org.id, &fresh, t).await.unwrap() else {
        panic!("a new address becomes a member")
    };
    assert_eq!(account, fresh.account.clone().verified());
    assert_eq!(by_email(&store, "fresh@x.test").await, Some(account.clone()));
    assert_eq!((member.org, member.account, member.roles.clone()), (org.id, account.id, vec![PROVIDER]));
    assert_eq!(store.member_of(org.id, account.id).await.unwrap(), Some(member));
    assert_eq!(store.link_member(org.id, &fresh, t).await.unwrap(), Linked::AlreadyMember);

    let verified = person("verified@x.test", "Vera", "Fied", Some("$argon2id$v"), t).verified();
    store.insert_account(&verified, None).await.unwrap();
    let request = link_request(&org, "verified@x.test", &[], t);
    let Linked::Member(member, account) = store.link_member(org.id, &request, t).await.unwrap() else {
        panic!("a verified account becomes a member")
    };
    assert_eq!((account, member.account), (verified.clone(), verified.id), "the existing account, unchanged");

    let unverified = person("unverified@x.test", "Un", "Verified", Some("$argon2id$u"), t);
    store.insert_account(&unverified, None).await.unwrap();
    let request = link_request(&org, "unverified@x.test", &[SUPPORT], t);
    let linked = store.link_member(org.id, &request, t).await.unwrap();
    assert_eq!(linked, Linked::Invited(request.invitation.clone()));
    assert_eq!(store.member_of(org.id, unverified.id).await.unwrap(), None, "never linked unverified");
    assert_eq!(store.connection_by_id(org.id, request.invitation.id).await.unwrap(), Some(request.invitation));
    assert!(store.has_pending_connection(org.id, Some(&unverified.email), t).await.unwrap());
    let again = link_request(&org, "unverified@x.test", &[], t);
    assert_eq!(store.link_member(org.id, &again, t).await.unwrap(), Linked::AlreadyInvited);
    assert_eq!(store.connection_by_id(org.id, again.invitation.id).await.unwrap(), None);
    assert_eq!(by_email(&store, "unverified@x.test").await, Some(unverified));

    let founded = new_org("founded", "Founded", t);
    let founder = link_request(&founded, "founder@x.test", &[ADMINISTRATOR], t);
    let Some(Linked::Member(member, account)) = store.insert_org(&founded, Some(&founder)).await.unwrap() else {
        panic!("the first administrator is linked")
    };
    assert!(account.verified);
    assert_eq!(store.member_of(founded.id, account.id).await.unwrap().map(|m| m.roles), Some(vec![ADMINISTRATOR]));
    assert_eq!(member.roles, vec![ADMINISTRATOR]);
    let clash = new_org("founded", "Clash", t);
    let nobody = link_request(&clash, "nobody@x.test", &[ADMINISTRATOR], t);
    let refused = store.insert_org(&clash, Some(&nobody)).await;
    assert!(matches!(refused, Err(StoreError::Exists(_))), "{refused:?}");
    assert_eq!(by_email(&store, "nobody@x.test").await, None, "a refused org links nobody");
}

/// An import links each row as `link_member` does and answers in order (a row
/// repeating an address finds it a member already); a row that fails rolls the
/// whole batch back.
pub async fn an_import_links_each_row_in_order_in_one_transaction(store: DynStore) {
    let t = now_ms();
    let org = new_org("import", "Import", t);
    store.insert_org(&org, None).await.unwrap();
    let verified = person("verified@x.test", "Vera", "Fied", None, t).verified();
    let unverified = person("unverified@x.test", "Un", "Verified", None, t);
    let member = person("member@x.test", "Mem", "Ber", None, t).verified();
    for account in [&verified, &unverified, &member] {
        store.insert_account(account, None).await.unwrap();
    }
    join(&store, &org, &member, &[], t).await;
    let rows: Vec<LinkRequest> = ["new@x.test", "verified@x.test", "unverified@x.test", "member@x.test", "NEW@x.test"]
        .iter()
        .map(|email| link_request(&org, email, &[PROVIDER], t))
        .collect();
    let linked = store.import_members(org.id, &rows, t).await.unwrap();
    assert_eq!(linked.len(), 5);
    let new = by_email(&store, "new@x.test").await.unwrap();
    assert!(matches!(&linked[0], Linked::Member(m, a) if *a == new && m.roles == [PROVIDER]), "{:?}", linked[0]);
    assert!(matches!(&linked[1], Linked::Member(m, a) if *a == verified && m.account == verified.id));
    assert_eq!(linked[2], Linked::Invited(rows[2].invitation.clone()));
    assert_eq!(linked[3..], [Linked::AlreadyMember, Linked::AlreadyMember]);
    let everyone = page_of(&[], &["_id"]);
    assert_eq!(store.list_members(org.id, &MemberFilter::default(), &everyone).await.unwrap().data.len(), 3);

    // The second row's new account takes an id that is already used: the batch fails
    // and its first row is not linked either.
    let mut broken = link_request(&org, "second@x.test", &[], t);
    broken.account.id = new.id;
    let batch = [link_request(&org, "first@x.test", &[], t), broken];
    let failed = store.import_members(org.id, &batch, t).await;
    assert!(failed.is_err(), "{failed:?}");
    assert_eq!(by_email(&store, "first@x.test").await, None, "the batch is one transaction");
    assert_eq!(store.list_members(org.id, &MemberFilter::default(), &everyone).await.unwrap().data.len(), 3);
}

/// Links and imports of one new address racing each other make one account and
/// one member: one call links it, the others find it a member, on both databases
/// (PostgreSQL's losers wait at the account insert, then take that account).
pub async fn racing_links_of_one_email_make_one_account_and_one_member(store: DynStore) {
    let t = now_ms();
    let org = new_org("racing-links", "Racing Links", t);
    store.insert_org(&org, None).await.unwrap();
    let everyone = page_of(&[], &["_id"]);
    for round in 0..4 {
        let email = format!("racer{round}@x.test");
        let calls = (0..4).map(|i| {
            let (store, request) = (store.clone(), link_request(&org, &email, &[], t));
            async move {
                if i % 2 == 0 {
                    store.link_member(org.id, &request, t).await
                } else {
                    store.import_members(org.id, std::slice::from_ref(&request), t).await.map(|mut l| l.remove(0))
                }
            }
        });
        let outcomes = join_all(calls).await;
        let linked = outcomes.iter().filter(|o| matches!(o, Ok(Linked::Member(..)))).count();
        assert_eq!(linked, 1, "round {round}: {outcomes:?}");
        for outcome in &outcomes {
            assert!(matches!(outcome, Ok(Linked::Member(..) | Linked::AlreadyMember)), "round {round}: {outcome:?}");
        }
        let account = by_email(&store, &email).await.unwrap();
        assert_eq!(store.memberships_of(account.id).await.unwrap().len(), 1, "round {round}");
        let search = MemberFilter { search: Some(email.clone()), ..MemberFilter::default() };
        assert_eq!(store.list_members(org.id, &search, &everyone).await.unwrap().data.len(), 1, "round {round}");
    }
}

fn emails(page: &Page<MemberEntry>) -> Vec<&str> {
    page.data.iter().map(|e| e.email.as_str()).collect()
}

/// The member list filters by role, by state and by a case-insensitive prefix of
/// the email or either name (`%` and `_` match themselves), combines filters, and
/// pages by keyset both ways; one member is found by id in its org only.
pub async fn member_lists_filter_and_page_by_keyset(store: DynStore) {
    let t = now_ms();
    let org = new_org("member-list", "Member List", t);
    let other = new_org("other-list", "Other List", t);
    store.insert_org(&org, None).await.unwrap();
    store.insert_org(&other, None).await.unwrap();
    let people = [
        ("ann@x.test", "Ann", "Smith", vec![ADMINISTRATOR]),
        ("bob_x@x.test", "Bob", "Jones", vec![PROVIDER]),
        ("bobby@x.test", "Robert", "Annan", vec![PROVIDER, SUPPORT]),
        ("dora@x.test", "Dora", "Bobbin", vec![]),
    ];
    let mut members = Vec::new();
    for (i, (email, first, last, roles)) in people.iter().enumerate() {
        let at = t + Duration::seconds(i as i64);
        let account = person(email, first, last, None, at);
        store.insert_account(&account, None).await.unwrap();
        members.push((join(&store, &org, &account, roles, at).await, account));
    }
    let outsider = person("annex@x.test", "Ann", "Ex", None, t);
    store.insert_account(&outsider, None).await.unwrap();
    join(&store, &other, &outsider, &[ADMINISTRATOR], t).await;
    let later = t + Duration::minutes(1);
    let suspended = store
        .update_member(org.id, members[2].0.id, None, Some(MemberState::Suspended), admins(&[ADMINISTRATOR]), later)
        .await
        .unwrap();

    let all = page_of(&[], &["_id"]);
    let list = |filter: MemberFilter| {
        let store = store.clone();
        async move { store.list_members(org.id, &filter, &all).await.unwrap() }
    };
    let search = |s: &str| MemberFilter { search: Some(s.into()), ..MemberFilter::default() };
    let everyone = list(MemberFilter::default()).await;
    assert_eq!(emails(&everyone), ["ann@x.test", "bob_x@x.test", "bobby@x.test", "dora@x.test"]);
    assert_eq!(everyone.data[2], MemberEntry::new(suspended.clone(), &members[2].1));
    let role = |r| MemberFilter { role: Some(r), ..MemberFilter::default() };
    assert_eq!(emails(&*list(role(PROVIDER)).await), ["bob_x@x.test", "bobby@x.test"]);
    assert_eq!(emails(&*list(role(ADMINISTRATOR)).await), ["ann@x.test"]);
    let state = |s| MemberFilter { state: Some(s), ..MemberFilter::default() };
    assert_eq!(emails(&*list(state(MemberState::Suspended)).await), ["bobby@x.test"]);
    assert_eq!(emails(&*list(state(MemberState::Active)).await), ["ann@x.test", "bob_x@x.test", "dora@x.test"]);
    assert_eq!(emails(&*list(search("ANN")).await), ["ann@x.test", "bobby@x.test"], "email or last name");
    assert_eq!(emails(&*list(search("bob")).await), ["bob_x@x.test", "bobby@x.test", "dora@x.test"]);
    assert_eq!(emails(&*list(search("bob_")).await), ["bob_x@x.test"], "`_` matches itself");
    assert_eq!(emails(&*list(search("rob")).await), ["bobby@x.test"], "first name");
    assert!(list(search("mith")).await.data.is_empty(), "a prefix, not a substring");
    assert!(list(search("%")).await.data.is_empty(), "`%` matches itself");
    let active_providers = MemberFilter { state: Some(MemberState::Active), ..role(PROVIDER) };
    assert_eq!(emails(&*list(active_providers).await), ["bob_x@x.test"]);

    let page = |pairs: &[(&str, String)]| {
        let (store, req) = (store.clone(), page_of(pairs, &["_id"]));
        async move { store.list_members(org.id, &MemberFilter::default(), &req).await.unwrap() }
    };
    let ids: Vec<String> = members.iter().map(|(m, _)| m.id.to_string()).collect();
    let first = page(&[("limit", "2".into())]).await;
    assert_eq!((emails(&first), first.has_more), (vec!["ann@x.test", "bob_x@x.test"], true));
    let next = page(&[("limit", "2".into()), ("after", ids[1].clone())]).await;
    assert_eq!((emails(&next), next.has_more), (vec!["bobby@x.test", "dora@x.test"], false));
    let back = page(&[("limit", "2".into()), ("before", ids[2].clone())]).await;
    assert_eq!((emails(&back), back.has_more), (vec!["ann@x.test", "bob_x@x.test"], false));
    let skipped = page(&[("limit", "2".into()), ("skip", "1".into())]).await;
    assert_eq!(emails(&skipped), ["bob_x@x.test", "bobby@x.test"]);
    let newest = page(&[("sort", "-_id".into()), ("limit", "1".into())]).await;
    assert_eq!((emails(&newest), newest.has_more), (vec!["dora@x.test"], true));

    let found = store.member_by_id(org.id, suspended.id).await.unwrap();
    assert_eq!(found, Some(MemberEntry::new(suspended.clone(), &members[2].1)));
    assert_eq!(store.member_by_id(other.id, suspended.id).await.unwrap(), None, "another org's member");
    assert_eq!(store.member_by_id(org.id, Id::from_u96(43)).await.unwrap(), None);
}

/// The last active administrator can be neither demoted, suspended nor removed,
/// and a refused change changes nothing; a changed member reads back with its
/// roles, state and time; an unknown member is not found.
pub async fn the_last_administrator_is_kept(store: DynStore) {
    let t = now_ms();
    let org = new_org("last-admin", "Last Admin", t);
    store.insert_org(&org, None).await.unwrap();
    let ann = person("ann@x.test", "Ann", "Smith", None, t);
    let bob = person("bob@x.test", "Bob", "Jones", None, t);
    store.insert_account(&ann, None).await.unwrap();
    store.insert_account(&bob, None).await.unwrap();
    let admin = join(&store, &org, &ann, &[ADMINISTRATOR], t).await;
    let other = join(&store, &org, &bob, &[], t).await;
    let guard = admins(&[ADMINISTRATOR]);
    let later = t + Duration::minutes(1);

    let demoted = store.update_member(org.id, admin.id, Some(&[PROVIDER]), None, guard, later).await;
    assert!(matches!(demoted, Err(StoreError::Invariant(_))), "{demoted:?}");
    let suspended = store.update_member(org.id, admin.id, None, Some(MemberState::Suspended), guard, later).await;
    assert!(matches!(suspended, Err(StoreError::Invariant(_))), "{suspended:?}");
    let removed = store.delete_member(org.id, admin.id, guard, later).await;
    assert!(matches!(removed, Err(StoreError::Invariant(_))), "{removed:?}");
    assert_eq!(store.member_of(org.id, ann.id).await.unwrap(), Some(admin.clone()), "refusals change nothing");

    // Any of the roles counts.
    let custom = Id::from_u96(1000);
    let promoted = store.update_member(org.id, other.id, Some(&[custom]), None, guard, later).await.unwrap();
    assert_eq!((promoted.roles.clone(), promoted.updated, promoted.state), (vec![custom], later, MemberState::Active));
    let both = Admins { roles: &[ADMINISTRATOR, custom], acting: None };
    let demoted = store.update_member(org.id, admin.id, Some(&[]), None, both, later).await.unwrap();
    assert!(demoted.roles.is_empty());
    assert_eq!(store.member_of(org.id, ann.id).await.unwrap(), Some(demoted));
    let refused = store.delete_member(org.id, other.id, both, later).await;
    assert!(matches!(refused, Err(StoreError::Invariant(_))), "{refused:?}");

    let gone = store.update_member(org.id, Id::from_u96(44), Some(&[]), None, both, later).await;
    assert!(matches!(gone, Err(StoreError::NotFound)), "{gone:?}");
    let gone = store.delete_member(org.id, Id::from_u96(44), both, later).await;
    assert!(matches!(gone, Err(StoreError::NotFound)), "{gone:?}");
    let elsewhere = new_org("elsewhere", "Elsewhere", t);
    store.insert_org(&elsewhere, None).await.unwrap();
    let gone = store.update_member(elsewhere.id, other.id, Some(&[]), None, both, later).await;
    assert!(matches!(gone, Err(StoreError::NotFound)), "another org's member: {gone:?}");
    let dup = store.insert_member(&orgbase_domain::account::Member::new(org.id, bob.id, vec![], t)).await;
    assert!(matches!(dup, Err(StoreError::Exists(_))), "{dup:?}");
}

/// Two administrators each removing, demoting or suspending the other at once:
/// exactly one change wins, and an active administrator is always left.
pub async fn racing_member_changes_keep_an_administrator(store: DynStore) {
    let t = now_ms();
    let guard = admins(&[ADMINISTRATOR]);
    for round in 0..6 {
        let org = new_org(&format!("race-admins-{round}"), "Race", t);
        store.insert_org(&org, None).await.unwrap();
        let ann = person(&format!("ann{round}@x.test"), "Ann", "Smith", None, t);
        let bob = person(&format!("bob{round}@x.test"), "Bob", "Jones", None, t);
        store.insert_account(&ann, None).await.unwrap();
        store.insert_account(&bob, None).await.unwrap();
        let a = join(&store, &org, &ann, &[ADMINISTRATOR], t).await;
        let b = join(&store, &org, &bob, &[ADMINISTRATOR], t).await;
        let (one, two) = match round % 3 {
            0 => {
                let (x, y) = tokio::join!(
                    store.delete_member(org.id, a.id, guard, t),
                    store.update_member(org.id, b.id, Some(&[]), None, guard, t)
                );
                (x.map(drop), y.map(drop))
            }
            1 => {
                let (x, y) = tokio::join!(
                    store.delete_member(org.id, a.id, guard, t),
                    store.delete_member(org.id, b.id, guard, t)
                );
                (x, y)
            }
            _ => {
                let (x, y) = tokio::join!(
                    store.update_member(org.id, a.id, None, Some(MemberState::Suspended), guard, t),
                    store.update_member(org.id, b.id, Some(&[PROVIDER]), None, guard, t)
                );
                (x.map(drop), y.map(drop))
            }
        };
        assert_eq!(u8::from(one.is_ok()) + u8::from(two.is_ok()), 1, "round {round}: {one:?} {two:?}");
        for refused in [&one, &two].into_iter().filter_map(|r| r.as_ref().err()) {
            assert!(matches!(refused, StoreError::Invariant(_)), "round {round}: {refused:?}");
        }
        let admin_filter = MemberFilter { role: Some(ADMINISTRATOR), state: Some(MemberState::Active), search: None };
        let left = store.list_members(org.id, &admin_filter, &page_of(&[], &["_id"])).await.unwrap();
        assert_eq!(left.data.len(), 1, "round {round}: one active administrator is left");
    }
}
