//! The storage port: narrow traits that each backend (`store-sqlite`,
//! `store-postgres`) implements, and that `store-tests` checks with one conformance
//! suite. Invariants that need atomicity live inside one method, in one transaction.

use std::sync::Arc;

use async_trait::async_trait;

use chrono::{DateTime, Utc};

use crate::account::{Account, LoginSession, Member, MemberEntry, MemberState, PersonName};
use crate::app::App;
use crate::connection::{Connection, ConnectionState};
use crate::email::Email;
use crate::facility::{Facility, PlaceChanges, Room};
use crate::live_session::{LiveSession, Participant, Permissions, SessionChanges, SessionQuery, SessionState};
use crate::org::{Org, OrgProps, OrgState};
use crate::paging::{Page, PageRequest};
use crate::post::Post;
use crate::rate::Quota;
use crate::schema::CustomProperty;
use crate::{DomainError, Id, StoreError};

/// A change to an org, computed from its current state: the new writable properties
/// and custom property declarations, or why the change is refused. A store may call
/// it more than once (again on a fresher org when the one it had went stale).
pub type OrgChange = Box<dyn Fn(&Org) -> Result<(OrgProps, Vec<CustomProperty>), DomainError> + Send + Sync>;

/// The fields orgs can be sorted by; the first is the default.
pub const ORG_SORT_FIELDS: &[&str] = &["_id", "code", "name", "created"];

/// Organisations.
#[async_trait]
pub trait OrgStore: Send + Sync {
    /// Inserts a new org. A taken code is [`StoreError::Exists`]. With `admin`, in the
    /// same transaction, the first Administrator is linked by email as
    /// [`MemberStore::link_member`] does, and what happened is returned.
    async fn insert_org(&self, org: &Org, admin: Option<&LinkRequest>) -> Result<Option<Linked>, StoreError>;
    /// The org with this code (shared: it is read on every request).
    async fn org_by_code(&self, code: &str) -> Result<Option<Arc<Org>>, StoreError>;
    /// The org with this id.
    async fn org_by_id(&self, id: Id) -> Result<Option<Org>, StoreError>;
    /// A page of orgs.
    async fn list_orgs(&self, page: &PageRequest) -> Result<Page<Org>, StoreError>;
    /// Applies `change` to the current org and writes the writable properties and
    /// custom property declarations it returns, bumping the version, as one atomic
    /// step: no other write to the org comes between the read that `change` sees
    /// and the write. A refusal from `change` writes nothing and is returned as is.
    /// Answers only once the write is durable. Returns the updated org.
    async fn modify_org(
        &self,
        id: Id,
        change: OrgChange,
        updater: Option<Id>,
        now: DateTime<Utc>,
    ) -> Result<Org, DomainError>;
    /// Sets the state, bumping the version. Returns the updated org.
    async fn set_org_state(
        &self,
        id: Id,
        state: OrgState,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<Org, StoreError>;
}

/// Apps and their credentials.
#[async_trait]
pub trait AppStore: Send + Sync {
    /// Inserts an app. A taken key is [`StoreError::Exists`].
    async fn insert_app(&self, app: &App) -> Result<(), StoreError>;
    /// The app with this client key (shared: it is read on every request).
    async fn app_by_key(&self, key: &str) -> Result<Option<Arc<App>>, StoreError>;
    /// The apps of an org, oldest first.
    async fn apps_of_org(&self, org: Id) -> Result<Vec<App>, StoreError>;
    /// Writes an app's changeable parts (name, secrets, enabled, origins, csrf,
    /// signing settings), found by its id and org. [`StoreError::NotFound`] when
    /// there is no such app.
    async fn update_app(&self, app: &App) -> Result<(), StoreError>;
    /// Deletes an app of `org`; false when there was none.
    async fn delete_app(&self, org: Id, app: Id) -> Result<bool, StoreError>;
    /// Seals every app secret (and previous secret) under the store's key, in one
    /// transaction: those sealed under `old` (the key being replaced) and those
    /// stored in the clear before sealing existed. With `old` absent, values
    /// already sealed are left alone. How many apps were written.
    async fn reseal_app_secrets(&self, old: Option<&crate::sealed::SecretKey>) -> Result<u64, StoreError>;
}

/// Platform-wide accounts and their credentials.
#[async_trait]
pub trait AccountStore: Send + Sync {
    /// Inserts an account and, with `member`, its first membership, in one
    /// transaction. A taken email is [`StoreError::Exists`].
    async fn insert_account(&self, account: &Account, member: Option<&Member>) -> Result<(), StoreError>;
    /// The account with this (normalised) email.
    async fn account_by_email(&self, email: &Email) -> Result<Option<Account>, StoreError>;
    /// The account with this id.
    async fn account_by_id(&self, id: Id) -> Result<Option<Account>, StoreError>;
    /// Sets the password hash and, in the same transaction, revokes every session of
    /// the account except `keep`.
    async fn set_password(
        &self,
        account: Id,
        hash: &str,
        keep: Option<Id>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Stores the digest and expiry of a password-reset token, replacing any other.
    async fn set_reset_token(&self, account: Id, token_hash: &str, expires: DateTime<Utc>) -> Result<(), StoreError>;
    /// The account holding a reset token, with the token's expiry.
    async fn account_by_reset_token(&self, token_hash: &str) -> Result<Option<(Account, DateTime<Utc>)>, StoreError>;
    /// Consumes an unexpired reset token: sets the password, clears the token, marks
    /// the email verified (the mailed link proved it) and revokes every session,
    /// atomically. `None` when the token is unknown, used or expired.
    async fn reset_password(&self, token_hash: &str, hash: &str, now: DateTime<Utc>) -> Result<Option<Id>, StoreError>;
    /// Stores the digest and expiry of an email verification token, replacing any other.
    async fn set_verify_token(&self, account: Id, token_hash: &str, expires: DateTime<Utc>) -> Result<(), StoreError>;
    /// The account holding a verification token, with the token's expiry.
    async fn account_by_verify_token(&self, token_hash: &str) -> Result<Option<(Account, DateTime<Utc>)>, StoreError>;
    /// Consumes an unexpired verification token: marks the email verified, sets the
    /// password the holder of the link chose (whoever registered the address
    /// before them loses the account), clears the token and revokes every session,
    /// atomically. `None` when the token is unknown, used or expired.
    async fn verify_account(&self, token_hash: &str, hash: &str, now: DateTime<Utc>) -> Result<Option<Id>, StoreError>;
}

/// Memberships of accounts in orgs.
#[async_trait]
pub trait MemberStore: Send + Sync {
    /// Inserts a membership. An account already in the org is [`StoreError::Exists`].
    async fn insert_member(&self, member: &Member) -> Result<(), StoreError>;
    /// The membership of an account in an org.
    async fn member_of(&self, org: Id, account: Id) -> Result<Option<Member>, StoreError>;
    /// A page of an org's members with their accounts' emails and names, filtered.
    async fn list_members(
        &self,
        org: Id,
        filter: &MemberFilter,
        page: &PageRequest,
    ) -> Result<Arc<Page<MemberEntry>>, StoreError>;
    /// One member of an org, with its account's email and name.
    async fn member_by_id(&self, org: Id, id: Id) -> Result<Option<MemberEntry>, StoreError>;
    /// Changes a member's roles and/or state. In the same transaction (serialised per
    /// org), refuses with [`StoreError::Invariant`] when no active member would
    /// hold one of `admins.roles` afterwards. A member left suspended leaves the
    /// org's sessions as a removed one does ([`MemberStore::delete_member`]), in
    /// the same transaction.
    async fn update_member(
        &self,
        org: Id,
        id: Id,
        roles: Option<&[Id]>,
        state: Option<MemberState>,
        admins: Admins<'_>,
        now: DateTime<Utc>,
    ) -> Result<Member, StoreError>;
    /// Links an account to the org by email, in one transaction: a new account
    /// (`request.account`, inserted verified: nobody else controls it) or a verified
    /// one becomes a member with the roles; an existing unverified account is never
    /// linked: it gets `request.invitation` instead (a pending connection).
    async fn link_member(&self, org: Id, request: &LinkRequest, now: DateTime<Utc>) -> Result<Linked, StoreError>;
    /// Bulk import: [`MemberStore::link_member`] for each row, in one transaction for
    /// the batch; returns what happened to each row, in order.
    async fn import_members(
        &self,
        org: Id,
        rows: &[LinkRequest],
        now: DateTime<Utc>,
    ) -> Result<Vec<Linked>, StoreError>;
    /// Removes a member, with the same last-administrator guard. In the same
    /// transaction the member leaves the org's sessions: its participations in the
    /// sessions of the org, and those that came in through the org (recorded home
    /// org), go; the sessions of the org it owns (ended ones too) pass to an
    /// administrator (see [`Admins::acting`]), who takes part in them with every
    /// permission.
    async fn delete_member(&self, org: Id, id: Id, admins: Admins<'_>, now: DateTime<Utc>) -> Result<(), StoreError>;
    /// Every membership of an account, oldest first.
    async fn memberships_of(&self, account: Id) -> Result<Vec<Member>, StoreError>;
}

/// An operator's request to make the holder of an email a member of an org.
#[derive(Debug, Clone)]
pub struct LinkRequest {
    /// The account to insert when none has the email (verified, without password).
    pub account: Account,
    /// The roles of the membership.
    pub roles: Vec<Id>,
    /// The invitation to store instead when the email belongs to an unverified
    /// account (its token is mailed by the caller).
    pub invitation: Connection,
}

/// What linking by email did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Linked {
    /// The account (new, or verified) is now a member.
    Member(Member, Account),
    /// The email belongs to an unverified account: it was invited instead.
    Invited(Connection),
    /// The account is a member already: nothing changed.
    AlreadyMember,
    /// The unverified account has a pending invitation already: nothing changed.
    AlreadyInvited,
}

/// How an invitation is accepted (see [`ConnectionStore::accept_connection`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Acceptance {
    /// `account` is new: it is inserted, verified (the token proves the email).
    Register,
    /// `account` exists and its holder proved who they are (logged in, or gave
    /// its password): it is marked verified; when it was not, its sessions other
    /// than `keep` end.
    Existing {
        /// The session of the acceptor, kept.
        keep: Option<Id>,
    },
    /// `account` exists, unverified: whoever registered the address before the
    /// acceptor loses it. Its password becomes `password_hash`, it is marked
    /// verified and every session ends. Refused ([`StoreError::Conflict`]) when the
    /// account was verified meanwhile.
    Reclaim {
        /// The acceptor's new password.
        password_hash: String,
        /// The acceptor's name.
        name: PersonName,
    },
}

/// An org's administrators as a member change sees them: the roles that make one
/// (at least one active member keeps one) and the account making the change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admins<'a> {
    /// The org's administrator role ids.
    pub roles: &'a [Id],
    /// The account making the change, if any. The sessions of a member who leaves
    /// pass to it when it is an active administrator other than the leaver;
    /// otherwise to the active administrator other than the leaver who joined
    /// first (then by member id).
    pub acting: Option<Id>,
}

/// Filters of the member list.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct MemberFilter {
    /// Members holding this role (directly).
    pub role: Option<Id>,
    /// Members in this state.
    pub state: Option<MemberState>,
    /// Email or name prefix, case-insensitive.
    pub search: Option<String>,
}

/// Invitations ("connections").
#[async_trait]
pub trait ConnectionStore: Send + Sync {
    /// Inserts a pending connection. A pending one for the same email, or an email
    /// that already belongs to a member, is [`StoreError::Exists`].
    async fn insert_connection(&self, connection: &Connection) -> Result<(), StoreError>;
    /// A page of an org's connections, optionally in one state.
    async fn list_connections(
        &self,
        org: Id,
        state: Option<ConnectionState>,
        page: &PageRequest,
    ) -> Result<Page<Connection>, StoreError>;
    /// One connection of an org.
    async fn connection_by_id(&self, org: Id, id: Id) -> Result<Option<Connection>, StoreError>;
    /// The connection holding this token digest.
    async fn connection_by_token(&self, token_hash: &str) -> Result<Option<Connection>, StoreError>;
    /// Gives a pending connection a new token and expiry (the old token dies).
    async fn reissue_connection(
        &self,
        org: Id,
        id: Id,
        token_hash: &str,
        expires: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<Connection, StoreError>;
    /// Moves a pending connection to `state` (declined or revoked) and kills its token.
    async fn close_connection(
        &self,
        org: Id,
        id: Id,
        state: ConnectionState,
        now: DateTime<Utc>,
    ) -> Result<Connection, StoreError>;
    /// Accepts atomically: the pending, unexpired connection with this token becomes
    /// accepted and `account` becomes a member with its roles, once, however many
    /// requests race, after what `how` says is done to the account. `NotFound` when
    /// the token is not (or no longer) pending.
    async fn accept_connection(
        &self,
        token_hash: &str,
        account: &Account,
        how: &Acceptance,
        now: DateTime<Utc>,
    ) -> Result<Member, StoreError>;
    /// True when the org has a pending connection that has not expired at `now`
    /// (for this email, when given).
    async fn has_pending_connection(
        &self,
        org: Id,
        email: Option<&Email>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
}

/// Login sessions and the nonces of signed requests.
#[async_trait]
pub trait LoginSessionStore: Send + Sync {
    /// Inserts a session.
    async fn insert_login_session(&self, session: &LoginSession) -> Result<(), StoreError>;
    /// The session whose token has this digest.
    async fn login_session_by_token_hash(&self, token_hash: &str) -> Result<Option<LoginSession>, StoreError>;
    /// Slides a session's expiry forward; a touch older than the last one changes nothing.
    async fn touch_login_session(
        &self,
        id: Id,
        last_seen: DateTime<Utc>,
        expires: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Revokes a session.
    async fn delete_login_session(&self, id: Id) -> Result<(), StoreError>;
    /// Records the nonce of a signed request. `false` when the app already used it
    /// (a replay). Nonces seen before `forget_before` are pruned on the way.
    async fn record_nonce(
        &self,
        app: Id,
        nonce: &str,
        now: DateTime<Utc>,
        forget_before: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// Deletes what has expired by `now`: sessions whose `expires` has passed,
    /// nonces seen before `nonces_before`, and rate-limit state that no longer
    /// limits anything. Returns how many rows went.
    async fn purge_expired(&self, now: DateTime<Utc>, nonces_before: DateTime<Utc>) -> Result<u64, StoreError>;
}

/// Rate-limit state (`crate::rate`): one theoretical arrival time per key. Every
/// node of a deployment must see the same state (PostgreSQL keeps it in a table; a
/// single-node SQLite store may keep it in memory).
#[async_trait]
pub trait RateLimitStore: Send + Sync {
    /// Counts one event for `key` under `quota` at `now`, atomically: `None` when it
    /// conforms (and is counted), `Some(wait)` when it does not (nothing counted),
    /// `wait` being how long until it would.
    async fn rate_limit(
        &self,
        key: &str,
        quota: Quota,
        now: DateTime<Utc>,
    ) -> Result<Option<std::time::Duration>, StoreError>;
}

/// The org's feed of posts.
#[async_trait]
pub trait PostStore: Send + Sync {
    /// Inserts a post.
    async fn insert_post(&self, post: &Post) -> Result<(), StoreError>;
    /// A page of the org's posts (sorted by `_id`).
    async fn list_posts(&self, org: Id, page: &PageRequest) -> Result<Page<Post>, StoreError>;
    /// One post of the org.
    async fn post_by_id(&self, org: Id, id: Id) -> Result<Option<Post>, StoreError>;
    /// Deletes a post; `false` when it did not exist.
    async fn delete_post(&self, org: Id, id: Id) -> Result<bool, StoreError>;
}

/// Live sessions (seed 000's video sessions; login sessions are [`LoginSessionStore`])
/// and their participants. Sessions are read with their participants.
#[async_trait]
pub trait LiveSessionStore: Send + Sync {
    /// Inserts a session with its participants (the owner), in one transaction. A
    /// facility or room that is gone by then is [`StoreError::NotFound`], and so is
    /// a participant that is not (or no longer) an active member of its home org.
    async fn insert_live_session(&self, session: &LiveSession) -> Result<(), StoreError>;
    /// The session with this id, with its participants.
    async fn live_session(&self, id: Id) -> Result<Option<LiveSession>, StoreError>;
    /// A page of sessions, by keyset, with their participants.
    async fn list_live_sessions(
        &self,
        query: &SessionQuery,
        page: &PageRequest,
    ) -> Result<Page<LiveSession>, StoreError>;
    /// Applies validated changes in one conditional UPDATE: an ended session is
    /// [`StoreError::Conflict`], a missing one [`StoreError::NotFound`].
    async fn update_live_session(
        &self,
        id: Id,
        changes: &SessionChanges,
        now: DateTime<Utc>,
    ) -> Result<LiveSession, StoreError>;
    /// Moves a session to `to` only if it is in the state `to` comes from (one
    /// conditional UPDATE, so two racing moves cannot both win), stamping
    /// `started`/`ended`. Any other state is [`StoreError::Conflict`].
    async fn move_live_session(&self, id: Id, to: SessionState, now: DateTime<Utc>) -> Result<LiveSession, StoreError>;
    /// Deletes a session and its participants.
    async fn delete_live_session(&self, id: Id) -> Result<(), StoreError>;
    /// Adds a participant to a session that has not ended ([`StoreError::Conflict`]
    /// otherwise). An account already taking part is [`StoreError::Exists`]; one
    /// that is not an active member of the participant's home org, checked in the
    /// same transaction (so that a removal racing the insert never leaves it in),
    /// is [`StoreError::NotFound`].
    async fn insert_participant(&self, participant: &Participant) -> Result<(), StoreError>;
    /// Replaces a participant's permissions; returns the participant.
    async fn update_participant(
        &self,
        session: Id,
        account: Id,
        permissions: Permissions,
        now: DateTime<Utc>,
    ) -> Result<Participant, StoreError>;
    /// Removes a participant.
    async fn delete_participant(&self, session: Id, account: Id) -> Result<(), StoreError>;
}

/// Facilities and their rooms. Deletes refuse ([`StoreError::Conflict`]) what is
/// non-removable or used by a session that has not ended, checked and done in one
/// transaction that locks the row against sessions taking it meanwhile.
#[async_trait]
pub trait FacilityStore: Send + Sync {
    /// Inserts a facility.
    async fn insert_facility(&self, facility: &Facility) -> Result<(), StoreError>;
    /// The facility of `org` with this id.
    async fn facility(&self, org: Id, id: Id) -> Result<Option<Facility>, StoreError>;
    /// A page of the org's facilities.
    async fn list_facilities(&self, org: Id, page: &PageRequest) -> Result<Page<Facility>, StoreError>;
    /// Applies changes; returns the facility.
    async fn update_facility(
        &self,
        org: Id,
        id: Id,
        changes: &PlaceChanges,
        now: DateTime<Utc>,
    ) -> Result<Facility, StoreError>;
    /// Deletes a facility and its rooms, unless it or any of its rooms is
    /// non-removable, or a session that has not ended uses it.
    async fn delete_facility(&self, org: Id, id: Id) -> Result<(), StoreError>;
    /// Inserts a room (its facility must exist: [`StoreError::NotFound`]).
    async fn insert_room(&self, room: &Room) -> Result<(), StoreError>;
    /// The room of `org` with this id.
    async fn room(&self, org: Id, id: Id) -> Result<Option<Room>, StoreError>;
    /// A page of a facility's rooms.
    async fn list_rooms(&self, org: Id, facility: Id, page: &PageRequest) -> Result<Page<Room>, StoreError>;
    /// Applies changes; returns the room.
    async fn update_room(
        &self,
        org: Id,
        id: Id,
        changes: &PlaceChanges,
        now: DateTime<Utc>,
    ) -> Result<Room, StoreError>;
    /// Deletes a room, unless it is non-removable or a session that has not ended
    /// uses it.
    async fn delete_room(&self, org: Id, id: Id) -> Result<(), StoreError>;
}

/// Everything a backend provides.
#[async_trait]
pub trait Store:
    OrgStore
    + AppStore
    + AccountStore
    + MemberStore
    + ConnectionStore
    + LoginSessionStore
    + RateLimitStore
    + PostStore
    + LiveSessionStore
    + FacilityStore
    + Send
    + Sync
{
    /// `"sqlite"` or `"postgres"`, for logs and metrics only.
    fn backend(&self) -> &'static str;
    /// Checks that the database answers, and that writes can be made: an error
    /// means this node should get no traffic now (`/readyz`).
    async fn ping(&self) -> Result<(), StoreError>;
}
