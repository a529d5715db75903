//! Live sessions, their participants and media join tokens as the API shows them.

use orgbase_domain::Id;
use orgbase_domain::live_session::{LiveSession, Participant, Permissions};
use orgbase_domain::time::Date;
use serde::Serialize;
use utoipa::ToSchema;

use super::object_tag;

object_tag!(
    /// `session`.
    SessionTag = "session"
);
object_tag!(
    /// `participant`.
    ParticipantTag = "participant"
);
object_tag!(
    /// `joinToken`.
    JoinTokenTag = "joinToken"
);

/// The six permissions of a participant.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = Permissions)]
pub struct PermissionsResponse {
    /// Clear every drawing (enforced by the media server).
    pub can_clear_all_drawings: bool,
    /// Close another participant's video feed (enforced by the media server).
    pub can_close_video_feed: bool,
    /// Change the session's fields, and start it.
    pub can_edit_session: bool,
    /// End the session.
    pub can_end_session: bool,
    /// Add participants, change their permissions, remove them.
    pub can_invite_participants: bool,
    /// Record the session (enforced by the media server).
    pub can_record_session: bool,
}

impl From<Permissions> for PermissionsResponse {
    fn from(p: Permissions) -> Self {
        Self {
            can_clear_all_drawings: p.can_clear_all_drawings,
            can_close_video_feed: p.can_close_video_feed,
            can_edit_session: p.can_edit_session,
            can_end_session: p.can_end_session,
            can_invite_participants: p.can_invite_participants,
            can_record_session: p.can_record_session,
        }
    }
}

/// A participant of a session.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = Participant)]
pub struct ParticipantResponse {
    /// 24 hex characters.
    #[serde(rename = "_id")]
    #[schema(value_type = String)]
    pub id: Id,
    /// The participating account.
    #[schema(value_type = String)]
    pub account: Id,
    /// Creation time, RFC 3339.
    #[schema(value_type = String, format = DateTime)]
    pub created: Date,
    /// Always `participant`.
    pub object: ParticipantTag,
    /// The org the participation came in through (its home org).
    #[schema(value_type = String)]
    pub org: Id,
    /// True for the session's owner.
    pub owner: bool,
    /// What it may do.
    pub permissions: PermissionsResponse,
    /// The session's id.
    #[schema(value_type = String)]
    pub session: Id,
    /// Last update, RFC 3339.
    #[schema(value_type = String, format = DateTime)]
    pub updated: Date,
}

impl ParticipantResponse {
    /// `p`, marked as the owner when `owner`.
    pub fn new(p: &Participant, owner: bool) -> Self {
        Self {
            id: p.id,
            account: p.account,
            created: Date(p.created),
            object: ParticipantTag::Tag,
            org: p.home_org,
            owner,
            permissions: p.permissions.into(),
            session: p.session,
            updated: Date(p.updated),
        }
    }
}

/// A live (video) session.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = LoginSession)]
pub struct SessionResponse<'a> {
    /// 24 hex characters.
    #[serde(rename = "_id")]
    #[schema(value_type = String)]
    pub id: Id,
    /// `PRIVATE` (participants only) or `ORGANISATION` (every member reads it).
    pub access: &'static str,
    /// Creation time, RFC 3339.
    #[schema(value_type = String, format = DateTime)]
    pub created: Date,
    /// When it ended, RFC 3339.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub ended: Option<Date>,
    /// A `/taxonomy/session/durations` code.
    pub estimated_duration: Option<&'a str>,
    /// Its facility.
    #[schema(value_type = Option<String>)]
    pub facility: Option<Id>,
    /// Where the media server serves it.
    #[serde(rename = "mediaURL")]
    pub media_url: String,
    /// The label.
    pub name: &'a str,
    /// Always `session`.
    pub object: SessionTag,
    /// The owning org's id.
    #[schema(value_type = String)]
    pub org: Id,
    /// The creator's account id.
    #[schema(value_type = String)]
    pub owner: Id,
    /// The participants, owner first.
    pub participants: Vec<ParticipantResponse>,
    /// Its room.
    #[schema(value_type = Option<String>)]
    pub room: Option<Id>,
    /// The planned start, RFC 3339.
    #[schema(value_type = String, format = DateTime)]
    pub scheduled_start: Date,
    /// A `/taxonomy/user/specialities` code.
    pub speciality: Option<&'a str>,
    /// When it started, RFC 3339.
    #[schema(value_type = Option<String>, format = DateTime)]
    pub started: Option<Date>,
    /// `scheduled`, `live` or `ended`.
    pub state: &'static str,
    /// A `/taxonomy/session/types` code.
    #[serde(rename = "type")]
    pub session_type: &'a str,
    /// Last update, RFC 3339.
    #[schema(value_type = String, format = DateTime)]
    pub updated: Date,
}

impl<'a> SessionResponse<'a> {
    /// `s`, served by the media server under `media_base`.
    pub fn new(s: &'a LiveSession, media_base: &str) -> Self {
        Self {
            id: s.id,
            access: s.access.as_str(),
            created: Date(s.created),
            ended: s.ended.map(Date),
            estimated_duration: s.estimated_duration.as_deref(),
            facility: s.facility,
            media_url: s.media_url(media_base),
            name: &s.name,
            object: SessionTag::Tag,
            org: s.org,
            owner: s.owner,
            participants: s.participants.iter().map(|p| ParticipantResponse::new(p, p.account == s.owner)).collect(),
            room: s.room,
            scheduled_start: Date(s.scheduled_start),
            speciality: s.speciality.as_deref(),
            started: s.started.map(Date),
            state: s.state.as_str(),
            session_type: &s.session_type,
            updated: Date(s.updated),
        }
    }
}

/// A media join token for the caller.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = JoinToken)]
pub struct JoinTokenResponse {
    /// The token's id (its `jti`).
    #[serde(rename = "_id")]
    pub id: String,
    /// When it expires, RFC 3339.
    #[schema(value_type = String, format = DateTime)]
    pub expires: Date,
    /// Where the media server serves the session.
    #[serde(rename = "mediaURL")]
    pub media_url: String,
    /// Always `joinToken`.
    pub object: JoinTokenTag,
    /// The session's id.
    #[schema(value_type = String)]
    pub session: Id,
    /// The JWT (HS256) to hand to the media server.
    pub token: String,
}
