//! What every request reads, kept in memory: orgs by code and apps by key (with
//! newer versions replacing older ones), and what an authenticated request reads
//! before its work: its session, account and membership, the org's apps and
//! whether it has pending invitations.
//!
//! SQLite serves one process, and every write this process makes goes through the
//! store. Orgs and apps are written through. The rest is invalidated: a write to
//! accounts, members, connections or apps empties it once committed, and reads
//! only fill it if no write committed since they started (a generation number), so
//! a read that raced a write cannot store what it read before the write. A change
//! made by another process (the CLI on a live data dir) is seen through
//! `PRAGMA data_version`, which empties everything.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use orgbase_domain::Id;
use orgbase_domain::account::{Account, Member, Session};
use orgbase_domain::app::App;
use orgbase_domain::org::Org;

/// Past this many entries a map starts over, so memory stays bounded.
const MAX_ENTRIES: usize = 50_000;

#[derive(Debug, Default)]
pub struct Cache {
    orgs: RwLock<HashMap<String, Arc<Org>>>,
    apps: RwLock<HashMap<String, Arc<App>>>,
    auth: Mutex<AuthCache>,
}

/// The invalidated part.
#[derive(Debug, Default)]
struct AuthCache {
    generation: u64,
    sessions: HashMap<String, Session>,
    session_hashes: HashMap<Id, String>,
    accounts: HashMap<Id, Account>,
    members: HashMap<(Id, Id), Option<Member>>,
    org_apps: HashMap<Id, Vec<App>>,
    pending: HashMap<(Id, Option<String>), bool>,
}

impl AuthCache {
    fn clear(&mut self) {
        self.generation += 1;
        self.sessions.clear();
        self.session_hashes.clear();
        self.accounts.clear();
        self.members.clear();
        self.org_apps.clear();
        self.pending.clear();
    }
}

/// The generation a read started in; what it read is kept only if no write
/// committed since.
#[derive(Debug, Clone, Copy)]
pub struct Generation(u64);

/// Empties the invalidated part of the cache when dropped: held by a write method
/// from its start, so that it drops after the commit.
#[must_use = "the cache is invalidated when this is dropped, after the write"]
pub struct Changing<'a>(&'a Cache);

impl Drop for Changing<'_> {
    fn drop(&mut self) {
        self.0.auth().clear();
    }
}

fn bounded_insert<K: Eq + Hash, V>(map: &mut HashMap<K, V>, key: K, value: V) {
    if map.len() >= MAX_ENTRIES {
        map.clear();
    }
    map.insert(key, value);
}

impl Cache {
    fn auth(&self) -> std::sync::MutexGuard<'_, AuthCache> {
        self.auth.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn org(&self, code: &str) -> Option<Arc<Org>> {
        self.orgs.read().unwrap_or_else(PoisonError::into_inner).get(code).cloned()
    }

    pub fn put_org(&self, org: Arc<Org>) {
        let mut orgs = self.orgs.write().unwrap_or_else(PoisonError::into_inner);
        let newer = orgs.get(org.code.as_str()).is_none_or(|cached| cached.version < org.version);
        if newer {
            orgs.insert(org.code.as_str().to_owned(), org);
        }
    }

    pub fn app(&self, key: &str) -> Option<Arc<App>> {
        self.apps.read().unwrap_or_else(PoisonError::into_inner).get(key).cloned()
    }

    pub fn put_app(&self, app: Arc<App>) {
        self.apps.write().unwrap_or_else(PoisonError::into_inner).insert(app.key.clone(), app);
    }

    /// Forgets everything (another process changed the database).
    pub fn clear(&self) {
        self.orgs.write().unwrap_or_else(PoisonError::into_inner).clear();
        self.apps.write().unwrap_or_else(PoisonError::into_inner).clear();
        self.auth().clear();
    }

    /// Marks the start of a write to accounts, members, connections or apps.
    pub fn changing(&self) -> Changing<'_> {
        Changing(self)
    }

    /// The current generation, taken before a read of the database.
    pub fn generation(&self) -> Generation {
        Generation(self.auth().generation)
    }

    pub fn session(&self, token_hash: &str) -> Option<Session> {
        self.auth().sessions.get(token_hash).cloned()
    }

    pub fn put_session(&self, read_in: Generation, session: &Session) {
        let mut auth = self.auth();
        if auth.generation == read_in.0 {
            if auth.sessions.len() >= MAX_ENTRIES {
                auth.session_hashes.clear();
            }
            bounded_insert(&mut auth.sessions, session.token_hash.clone(), session.clone());
            auth.session_hashes.insert(session.id, session.token_hash.clone());
        }
    }

    /// Forgets one session (touched or deleted), once the write has committed; reads
    /// in flight keep nothing.
    pub fn forget_session(&self, id: Id) {
        let mut auth = self.auth();
        auth.generation += 1;
        if let Some(hash) = auth.session_hashes.remove(&id) {
            auth.sessions.remove(&hash);
        }
    }

    pub fn account(&self, id: Id) -> Option<Account> {
        self.auth().accounts.get(&id).cloned()
    }

    pub fn put_account(&self, read_in: Generation, account: &Account) {
        let mut auth = self.auth();
        if auth.generation == read_in.0 {
            bounded_insert(&mut auth.accounts, account.id, account.clone());
        }
    }

    pub fn member(&self, org: Id, account: Id) -> Option<Option<Member>> {
        self.auth().members.get(&(org, account)).cloned()
    }

    pub fn put_member(&self, read_in: Generation, org: Id, account: Id, member: Option<&Member>) {
        let mut auth = self.auth();
        if auth.generation == read_in.0 {
            bounded_insert(&mut auth.members, (org, account), member.cloned());
        }
    }

    pub fn org_apps(&self, org: Id) -> Option<Vec<App>> {
        self.auth().org_apps.get(&org).cloned()
    }

    pub fn put_org_apps(&self, read_in: Generation, org: Id, apps: &[App]) {
        let mut auth = self.auth();
        if auth.generation == read_in.0 {
            bounded_insert(&mut auth.org_apps, org, apps.to_vec());
        }
    }

    pub fn pending(&self, org: Id, email: Option<&str>) -> Option<bool> {
        self.auth().pending.get(&(org, email.map(str::to_owned))).copied()
    }

    pub fn put_pending(&self, read_in: Generation, org: Id, email: Option<&str>, pending: bool) {
        let mut auth = self.auth();
        if auth.generation == read_in.0 {
            bounded_insert(&mut auth.pending, (org, email.map(str::to_owned)), pending);
        }
    }
}
