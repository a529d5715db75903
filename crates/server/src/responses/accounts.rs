//! Accounts, members and connections (invitations) as the API shows them.

use orgbase_domain::Id;
use orgbase_domain::account::{Account, Member, MemberEntry, PersonName};
use orgbase_domain::connection::Connection;
use orgbase_domain::email::Email;
use orgbase_domain::level::Level;
use orgbase_domain::time::Date;
use serde::Serialize;
use utoipa::ToSchema;

use super::object_tag;

object_tag!(
    /// `account`.
    AccountTag = "account"
);
object_tag!(
    /// `member`.
    MemberTag = "member"
);
object_tag!(
    /// `connection`.
    ConnectionTag = "connection"
);

/// A person's name.
#[derive(Debug, ToSchema)]
#[schema(as = PersonName)]
#[expect(dead_code, reason = "documents domain::account::PersonName, which serialises itself")]
pub struct PersonNameSchema {
    /// Given name.
    first: String,
    /// Family name.
    last: String,
}

/// An account (never its password hash).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Account)]
pub struct AccountResponse<'a> {
    /// 24 hex characters.
    #[serde(rename = "_id")]
    #[schema(value_type = String)]
    pub id: Id,
    /// Creation time, RFC 3339.
    #[schema(value_type = String, format = DateTime)]
    pub created: Date,
    /// The normalised email.
    #[schema(value_type = String)]
    pub email: &'a Email,
    /// The person's name.
    #[schema(value_type = PersonNameSchema)]
    pub name: &'a PersonName,
    /// Always `account`.
    pub object: AccountTag,
    /// True once the email is verified.
    pub verified: bool,
}

impl<'a> From<&'a Account> for AccountResponse<'a> {
    fn from(a: &'a Account) -> Self {
        Self {
            id: a.id,
            created: Date(a.created),
            email: &a.email,
            name: &a.name,
            object: AccountTag::Tag,
            verified: a.verified,
        }
    }
}

/// The answer of a login: the account, with the session token when a bearer
/// token was asked for.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Login)]
pub struct LoginResponse<'a> {
    /// 24 hex characters.
    #[serde(rename = "_id")]
    #[schema(value_type = String)]
    pub id: Id,
    /// Creation time, RFC 3339.
    #[schema(value_type = String, format = DateTime)]
    pub created: Date,
    /// The normalised email.
    #[schema(value_type = String)]
    pub email: &'a Email,
    /// The person's name.
    #[schema(value_type = PersonNameSchema)]
    pub name: &'a PersonName,
    /// Always `account`.
    pub object: AccountTag,
    /// The session token, only when the login asked for `bearer`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<&'a str>,
    /// True once the email is verified.
    pub verified: bool,
}

impl<'a> LoginResponse<'a> {
    /// `account`, with `token` when it is to be shown.
    pub fn new(account: &'a Account, token: Option<&'a str>) -> Self {
        let a = AccountResponse::from(account);
        Self {
            id: a.id,
            created: a.created,
            email: a.email,
            name: a.name,
            object: a.object,
            token,
            verified: a.verified,
        }
    }
}

/// The logged-in account, with its membership of the org, its roles there and
/// its access level.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Me)]
pub struct MeResponse<'a> {
    /// 24 hex characters.
    #[serde(rename = "_id")]
    #[schema(value_type = String)]
    pub id: Id,
    /// The caller's access level in the org (1 public … 8 script).
    #[schema(value_type = u8)]
    pub access: Level,
    /// Creation time, RFC 3339.
    #[schema(value_type = String, format = DateTime)]
    pub created: Date,
    /// The normalised email.
    #[schema(value_type = String)]
    pub email: &'a Email,
    /// The membership of the org, `null` for none.
    pub member: Option<MemberResponse<'a>>,
    /// The person's name.
    #[schema(value_type = PersonNameSchema)]
    pub name: &'a PersonName,
    /// Always `account`.
    pub object: AccountTag,
    /// The role ids held in the org.
    #[schema(value_type = Vec<String>)]
    pub roles: &'a [Id],
    /// True once the email is verified.
    pub verified: bool,
}

impl<'a> MeResponse<'a> {
    /// `account` as its member `member` (if any) at `access`.
    pub fn new(account: &'a Account, member: Option<&'a Member>, access: Level) -> Self {
        let a = AccountResponse::from(account);
        Self {
            id: a.id,
            access,
            created: a.created,
            email: a.email,
            member: member.map(MemberResponse::from),
            name: a.name,
            object: a.object,
            roles: member.map_or(&[], |m| &m.roles),
            verified: a.verified,
        }
    }
}

/// `{loggedin, account}`: whether the caller is logged in, and as whom.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Status)]
pub struct StatusResponse<'a> {
    /// The account, `null` when not logged in.
    pub account: Option<MeResponse<'a>>,
    /// True when logged in.
    pub loggedin: bool,
}

/// A membership, with the account's email and name when listed or read.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Member)]
pub struct MemberResponse<'a> {
    /// 24 hex characters.
    #[serde(rename = "_id")]
    #[schema(value_type = String)]
    pub id: Id,
    /// The account's id.
    #[schema(value_type = String)]
    pub account: Id,
    /// Creation time, RFC 3339.
    #[schema(value_type = String, format = DateTime)]
    pub created: Date,
    /// The account's email (member reads and lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub email: Option<&'a Email>,
    /// The account's name (member reads and lists).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<PersonNameSchema>)]
    pub name: Option<&'a PersonName>,
    /// Always `member`.
    pub object: MemberTag,
    /// The org's id.
    #[schema(value_type = String)]
    pub org: Id,
    /// The role ids held.
    #[schema(value_type = Vec<String>)]
    pub roles: &'a [Id],
    /// `active` or `suspended`.
    pub state: &'static str,
    /// Last update, RFC 3339.
    #[schema(value_type = String, format = DateTime)]
    pub updated: Date,
}

impl<'a> From<&'a Member> for MemberResponse<'a> {
    fn from(m: &'a Member) -> Self {
        Self {
            id: m.id,
            account: m.account,
            created: Date(m.created),
            email: None,
            name: None,
            object: MemberTag::Tag,
            org: m.org,
            roles: &m.roles,
            state: m.state.as_str(),
            updated: Date(m.updated),
        }
    }
}

impl<'a> From<&'a MemberEntry> for MemberResponse<'a> {
    fn from(e: &'a MemberEntry) -> Self {
        Self { email: Some(&e.email), name: Some(&e.name), ..Self::from(&e.member) }
    }
}

/// A connection: an invitation to join the org (never its token).
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Connection)]
pub struct ConnectionResponse<'a> {
    /// 24 hex characters.
    #[serde(rename = "_id")]
    #[schema(value_type = String)]
    pub id: Id,
    /// The account that accepted or was invited, if known.
    #[schema(value_type = Option<String>)]
    pub account: Option<Id>,
    /// Creation time, RFC 3339.
    #[schema(value_type = String, format = DateTime)]
    pub created: Date,
    /// Who invited, if an account did.
    #[schema(value_type = Option<String>)]
    pub creator: Option<Id>,
    /// The invited email.
    #[schema(value_type = String)]
    pub email: &'a Email,
    /// When the invitation expires, RFC 3339.
    #[serde(rename = "expiresAt")]
    #[schema(value_type = String, format = DateTime)]
    pub expires_at: Date,
    /// The invited person's name, if given.
    pub name: Option<&'a str>,
    /// Always `connection`.
    pub object: ConnectionTag,
    /// The org's id.
    #[schema(value_type = String)]
    pub org: Id,
    /// The role ids given on acceptance.
    #[schema(value_type = Vec<String>)]
    pub roles: &'a [Id],
    /// 0 pending, 1 accepted, 2 declined, 3 revoked.
    #[schema(minimum = 0, maximum = 3)]
    pub state: i16,
    /// Last update, RFC 3339.
    #[schema(value_type = String, format = DateTime)]
    pub updated: Date,
}

impl<'a> From<&'a Connection> for ConnectionResponse<'a> {
    fn from(c: &'a Connection) -> Self {
        Self {
            id: c.id,
            account: c.account,
            created: Date(c.created),
            creator: c.creator,
            email: &c.email,
            expires_at: Date(c.expires),
            name: c.name.as_deref(),
            object: ConnectionTag::Tag,
            org: c.org,
            roles: &c.roles,
            state: c.state.as_i16(),
            updated: Date(c.updated),
        }
    }
}
