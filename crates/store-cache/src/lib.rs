//! What every request reads, kept in memory by both stores: orgs by code and apps
//! by key (a newer version replaces an older one), what an authenticated request
//! reads before its work (its session, account and membership, the org's apps and
//! whether it has pending invitations), and the pages of member lists read lately.
//!
//! A store writes its own org changes through ([`Cache::put_org`]); a write to
//! accounts, members, connections or apps empties the rest once committed
//! ([`Cache::changing`]). Every fill names the generation its read started in
//! ([`Cache::generation`]) and is dropped if anything was forgotten since, so a
//! read that raced a write cannot keep what it read before the write. Changes made elsewhere (another
//! process on the SQLite file, another node on PostgreSQL) reach the cache through
//! the store: [`Cache::clear`], [`Cache::forget_org`], [`Cache::clear_auth`],
//! [`Cache::forget_login_session`].
//!
//! Memory stays bounded: each map starts over past 50,000 entries, and the kept
//! member pages start over past 20,000 members in all.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};

use chrono::{DateTime, Utc};
use orgbase_domain::Id;
use orgbase_domain::account::{Account, LoginSession, Member, MemberEntry};
use orgbase_domain::app::App;
use orgbase_domain::org::Org;
use orgbase_domain::paging::{Page, PageRequest};
use orgbase_domain::store::MemberFilter;

/// Past this many entries a map starts over, so memory stays bounded.
const MAX_ENTRIES: usize = 50_000;

/// Past this many members in kept pages (a member with its account is a few
/// hundred bytes) the pages start over.
const MAX_PAGE_ROWS: usize = 20_000;

/// A page of an org's members with their accounts' emails and names.
pub type MemberPage = Page<MemberEntry>;

/// Which page of which member list.
type MemberPageKey = (Id, MemberFilter, PageRequest);

/// The cache of one store.
///
/// Forgetting bumps the generation *before* it takes a map's lock and removes;
/// filling takes the lock and inserts only if the generation is the one its read
/// started in. Either the fill sees the bump, or the removal comes after it.
#[derive(Debug, Default)]
pub struct Cache {
    generation: AtomicU64,
    orgs: RwLock<HashMap<String, Arc<Org>>>,
    apps: RwLock<HashMap<String, Arc<App>>>,
    auth: Mutex<AuthCache>,
}

/// What an authenticated request reads.
#[derive(Debug, Default)]
struct AuthCache {
    sessions: HashMap<String, LoginSession>,
    session_hashes: HashMap<Id, String>,
    accounts: HashMap<Id, Account>,
    members: HashMap<(Id, Id), Option<Member>>,
    org_apps: HashMap<Id, Vec<App>>,
    pending: HashMap<(Id, Option<String>), Option<DateTime<Utc>>>,
    member_pages: HashMap<MemberPageKey, Arc<MemberPage>>,
    /// How many members `member_pages` holds.
    member_page_rows: usize,
}

/// The generation a read started in; what it read is kept only if nothing was
/// forgotten since.
#[derive(Debug, Clone, Copy)]
pub struct Generation(u64);

/// Empties the auth part of the cache (and the apps by key) when dropped: held by
/// a write method from its start, so that it drops after the commit.
#[must_use = "the cache is invalidated when this is dropped, after the write"]
pub struct Changing<'a>(&'a Cache);

impl Drop for Changing<'_> {
    fn drop(&mut self) {
        self.0.clear_auth();
    }
}

fn bounded_insert<K: Eq + Hash, V>(map: &mut HashMap<K, V>, key: K, value: V) {
    if map.len() >= MAX_ENTRIES {
        map.clear();
    }
    map.insert(key, value);
}

impl Cache {
    fn auth(&self) -> MutexGuard<'_, AuthCache> {
        self.auth.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn bump(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn current(&self, read_in: Generation) -> bool {
        self.generation.load(Ordering::SeqCst) == read_in.0
    }

    /// The current generation, taken before a read of the database (or before a
    /// write whose result is to be kept).
    pub fn generation(&self) -> Generation {
        Generation(self.generation.load(Ordering::SeqCst))
    }

    /// Marks the start of a write to accounts, members, connections or apps.
    pub fn changing(&self) -> Changing<'_> {
        Changing(self)
    }

    /// The org with this code, if kept.
    pub fn org(&self, code: &str) -> Option<Arc<Org>> {
        self.orgs.read().unwrap_or_else(PoisonError::into_inner).get(code).cloned()
    }

    /// Keeps an org read (or written) in `read_in`, unless a newer version is kept.
    pub fn put_org(&self, read_in: Generation, org: Arc<Org>) {
        let mut orgs = self.orgs.write().unwrap_or_else(PoisonError::into_inner);
        let newer = orgs.get(org.code.as_str()).is_none_or(|cached| cached.version < org.version);
        if newer && self.current(read_in) {
            if orgs.len() >= MAX_ENTRIES {
                orgs.clear();
            }
            orgs.insert(org.code.as_str().to_owned(), org);
        }
    }

    /// Keeps an org this store has just written and committed, unless a newer
    /// version is kept. For a store that is the only writer (SQLite); a store that
    /// shares its database forgets instead ([`Cache::forget_org`]).
    pub fn wrote_org(&self, org: Arc<Org>) {
        let mut orgs = self.orgs.write().unwrap_or_else(PoisonError::into_inner);
        if orgs.get(org.code.as_str()).is_none_or(|cached| cached.version < org.version) {
            orgs.insert(org.code.as_str().to_owned(), org);
        }
    }

    /// The app with this key, if kept.
    pub fn app(&self, key: &str) -> Option<Arc<App>> {
        self.apps.read().unwrap_or_else(PoisonError::into_inner).get(key).cloned()
    }

    /// Keeps an app read in `read_in`.
    pub fn put_app(&self, read_in: Generation, app: Arc<App>) {
        let mut apps = self.apps.write().unwrap_or_else(PoisonError::into_inner);
        if self.current(read_in) {
            bounded_insert(&mut apps, app.key.clone(), app);
        }
    }

    /// Forgets one org (changed elsewhere).
    pub fn forget_org(&self, id: Id) {
        self.bump();
        self.orgs.write().unwrap_or_else(PoisonError::into_inner).retain(|_, org| org.id != id);
    }

    /// Forgets every app, and the auth part (an org's apps are kept there).
    pub fn forget_apps(&self) {
        self.bump();
        self.apps.write().unwrap_or_else(PoisonError::into_inner).clear();
        *self.auth() = AuthCache::default();
    }

    /// Empties the auth part and the apps by key (accounts, members, connections
    /// or apps changed): an app changed or deleted must not be read from here,
    /// and refilling the apps is one row per key in use.
    pub fn clear_auth(&self) {
        self.bump();
        self.apps.write().unwrap_or_else(PoisonError::into_inner).clear();
        *self.auth() = AuthCache::default();
    }

    /// Forgets everything (the database changed in ways not told).
    pub fn clear(&self) {
        self.bump();
        self.orgs.write().unwrap_or_else(PoisonError::into_inner).clear();
        self.apps.write().unwrap_or_else(PoisonError::into_inner).clear();
        *self.auth() = AuthCache::default();
    }

    /// The session with this token digest, if kept.
    pub fn login_session(&self, token_hash: &str) -> Option<LoginSession> {
        self.auth().sessions.get(token_hash).cloned()
    }

    /// Keeps a session read in `read_in`.
    pub fn put_login_session(&self, read_in: Generation, session: &LoginSession) {
        let mut auth = self.auth();
        if self.current(read_in) {
            if auth.sessions.len() >= MAX_ENTRIES {
                auth.session_hashes.clear();
            }
            bounded_insert(&mut auth.sessions, session.token_hash.clone(), session.clone());
            auth.session_hashes.insert(session.id, session.token_hash.clone());
        }
    }

    /// Forgets one session (touched or deleted), once the write has committed; reads
    /// in flight keep nothing.
    pub fn forget_login_session(&self, id: Id) {
        self.bump();
        let mut auth = self.auth();
        if let Some(hash) = auth.session_hashes.remove(&id) {
            auth.sessions.remove(&hash);
        }
    }

    /// The account, if kept.
    pub fn account(&self, id: Id) -> Option<Account> {
        self.auth().accounts.get(&id).cloned()
    }

    /// Keeps an account read in `read_in`.
    pub fn put_account(&self, read_in: Generation, account: &Account) {
        let mut auth = self.auth();
        if self.current(read_in) {
            bounded_insert(&mut auth.accounts, account.id, account.clone());
        }
    }

    /// The membership (or its absence), if kept.
    pub fn member(&self, org: Id, account: Id) -> Option<Option<Member>> {
        self.auth().members.get(&(org, account)).cloned()
    }

    /// Keeps a membership (or its absence) read in `read_in`.
    pub fn put_member(&self, read_in: Generation, org: Id, account: Id, member: Option<&Member>) {
        let mut auth = self.auth();
        if self.current(read_in) {
            bounded_insert(&mut auth.members, (org, account), member.cloned());
        }
    }

    /// The apps of an org, if kept.
    pub fn org_apps(&self, org: Id) -> Option<Vec<App>> {
        self.auth().org_apps.get(&org).cloned()
    }

    /// Keeps the apps of an org read in `read_in`.
    pub fn put_org_apps(&self, read_in: Generation, org: Id, apps: &[App]) {
        let mut auth = self.auth();
        if self.current(read_in) {
            bounded_insert(&mut auth.org_apps, org, apps.to_vec());
        }
    }

    /// The latest expiry of the pending invitations (for one address, or any),
    /// `Some(None)` when none is pending, if kept.
    pub fn pending(&self, org: Id, email: Option<&str>) -> Option<Option<DateTime<Utc>>> {
        self.auth().pending.get(&(org, email.map(str::to_owned))).copied()
    }

    /// Keeps the latest expiry of pending invitations, read in `read_in`.
    pub fn put_pending(&self, read_in: Generation, org: Id, email: Option<&str>, pending: Option<DateTime<Utc>>) {
        let mut auth = self.auth();
        if self.current(read_in) {
            bounded_insert(&mut auth.pending, (org, email.map(str::to_owned)), pending);
        }
    }

    /// A page of an org's member list, if kept.
    pub fn member_page(&self, org: Id, filter: &MemberFilter, page: &PageRequest) -> Option<Arc<MemberPage>> {
        self.auth().member_pages.get(&(org, filter.clone(), *page)).cloned()
    }

    /// Keeps a page of an org's member list read in `read_in`.
    pub fn put_member_page(
        &self,
        read_in: Generation,
        org: Id,
        filter: &MemberFilter,
        page: &PageRequest,
        members: &Arc<MemberPage>,
    ) {
        let mut auth = self.auth();
        if self.current(read_in) {
            let rows = members.data.len().max(1);
            if auth.member_page_rows + rows > MAX_PAGE_ROWS {
                auth.member_pages.clear();
                auth.member_page_rows = 0;
            }
            if auth.member_pages.insert((org, filter.clone(), *page), Arc::clone(members)).is_none() {
                auth.member_page_rows += rows;
            }
        }
    }
}
