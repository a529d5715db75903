//! Live sessions (seed 000's video sessions) and their participants: the session
//! object and its validation, the six participant permissions, the lifecycle
//! `scheduled → live → ended`, where an external participant's home org comes from,
//! and [`can`], the ONE access decision of every session operation (in `standing`,
//! with how a caller stands towards a session).
//!
//! Login sessions are something else (`account::LoginSession`). This module streams no
//! video and signs no token: the server turns a participant into a media join token.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::text::parse_name;
use crate::{DomainError, FieldError, Id, taxonomy};

mod standing;

pub use standing::{Membership, SessionOp, Standing, can, check_grant, home_org};

/// The fields sessions can be sorted by; the first is the default.
pub const SESSION_SORT_FIELDS: &[&str] = &["_id", "scheduledStart", "created", "name"];

/// Where a session is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionState {
    /// Created, not started.
    Scheduled,
    /// Running.
    Live,
    /// Over; nothing about it changes any more (an admin may still delete it).
    Ended,
}

impl SessionState {
    /// The state as stored and rendered.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Live => "live",
            Self::Ended => "ended",
        }
    }

    /// Parses `scheduled`, `live` or `ended`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "scheduled" => Some(Self::Scheduled),
            "live" => Some(Self::Live),
            "ended" => Some(Self::Ended),
            _ => None,
        }
    }

    /// The state that must hold before moving to `self`: `live` comes only from
    /// `scheduled`, `ended` only from `live`. `None` for `scheduled` (no way back).
    pub const fn comes_from(self) -> Option<Self> {
        match self {
            Self::Scheduled => None,
            Self::Live => Some(Self::Scheduled),
            Self::Ended => Some(Self::Live),
        }
    }

    /// Checks the move from `self` to `to`: a [`DomainError::Conflict`] when illegal.
    pub fn check_move(self, to: Self) -> Result<(), DomainError> {
        if to.comes_from() == Some(self) { Ok(()) } else { Err(DomainError::Conflict(illegal_move(self, to))) }
    }
}

/// Why a move between states is illegal, for people.
pub fn illegal_move(from: SessionState, to: SessionState) -> String {
    format!("A {} session cannot become {}.", from.as_str(), to.as_str())
}

/// Why an ended session refuses a change.
pub const ENDED: &str = "This session has ended; it no longer changes.";

/// Who may read a session besides its participants and the owning org's admins.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionAccess {
    /// Nobody else (the default).
    Private,
    /// Every active member of the owning org may read it (and finds it in lists).
    Organisation,
}

impl SessionAccess {
    /// The access as stored and rendered.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Private => "PRIVATE",
            Self::Organisation => "ORGANISATION",
        }
    }

    /// Parses `PRIVATE` or `ORGANISATION`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "PRIVATE" => Some(Self::Private),
            "ORGANISATION" => Some(Self::Organisation),
            _ => None,
        }
    }
}

/// What a participant may do in a session. The owner holds all six.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
pub struct Permissions {
    /// Change the session's fields, and start it.
    pub can_edit_session: bool,
    /// Add participants, change their permissions, remove them.
    pub can_invite_participants: bool,
    /// Close another participant's video feed (enforced by the media server).
    pub can_close_video_feed: bool,
    /// End the session.
    pub can_end_session: bool,
    /// Clear every drawing (enforced by the media server).
    pub can_clear_all_drawings: bool,
    /// Record the session (enforced by the media server).
    pub can_record_session: bool,
}

impl Permissions {
    /// Every permission: the owner's.
    pub const ALL: Self = Self {
        can_edit_session: true,
        can_invite_participants: true,
        can_close_video_feed: true,
        can_end_session: true,
        can_clear_all_drawings: true,
        can_record_session: true,
    };

    fn flags(self) -> [bool; 6] {
        [
            self.can_edit_session,
            self.can_invite_participants,
            self.can_close_video_feed,
            self.can_end_session,
            self.can_clear_all_drawings,
            self.can_record_session,
        ]
    }

    /// The permissions as a bit set, the stored form (bit 0 `canEditSession` …
    /// bit 5 `canRecordSession`, in the order of the fields).
    pub fn bits(self) -> i64 {
        self.flags().iter().enumerate().fold(0, |acc, (i, on)| if *on { acc | (1 << i) } else { acc })
    }

    /// The permissions of a stored bit set; unknown bits are ignored.
    pub fn from_bits(bits: i64) -> Self {
        let on = |i: u32| bits & (1 << i) != 0;
        Self {
            can_edit_session: on(0),
            can_invite_participants: on(1),
            can_close_video_feed: on(2),
            can_end_session: on(3),
            can_clear_all_drawings: on(4),
            can_record_session: on(5),
        }
    }

    /// True when every permission of `other` is also in `self`.
    pub fn covers(self, other: Self) -> bool {
        self.flags().iter().zip(other.flags()).all(|(mine, theirs)| *mine || !theirs)
    }
}

/// An account taking part in a session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Participant {
    /// The id.
    pub id: Id,
    /// The session.
    pub session: Id,
    /// The account.
    pub account: Id,
    /// The org through which the account takes part: the owning org for its own
    /// members, otherwise the other org (one that allows external participants).
    pub home_org: Id,
    /// What it may do (all six for the owner).
    pub permissions: Permissions,
    /// When it was added.
    pub created: DateTime<Utc>,
    /// Last change of its permissions.
    pub updated: DateTime<Utc>,
}

impl Participant {
    /// A new participant.
    pub fn new(session: Id, account: Id, home_org: Id, permissions: Permissions, now: DateTime<Utc>) -> Self {
        Self { id: Id::generate(now), session, account, home_org, permissions, created: now, updated: now }
    }
}

/// A live session: belongs to the org it was created in, for good.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveSession {
    /// The id.
    pub id: Id,
    /// The owning org.
    pub org: Id,
    /// The account that created it; it holds every permission.
    pub owner: Id,
    /// The label.
    pub name: String,
    /// A `session/types` code.
    pub session_type: String,
    /// A `user/specialities` code.
    pub speciality: Option<String>,
    /// A `session/durations` code.
    pub estimated_duration: Option<String>,
    /// Who else may read it.
    pub access: SessionAccess,
    /// A facility of the owning org.
    pub facility: Option<Id>,
    /// A room of that facility.
    pub room: Option<Id>,
    /// When it is planned to start.
    pub scheduled_start: DateTime<Utc>,
    /// Its state.
    pub state: SessionState,
    /// When it went live.
    pub started: Option<DateTime<Utc>>,
    /// When it ended.
    pub ended: Option<DateTime<Utc>>,
    /// Creation time.
    pub created: DateTime<Utc>,
    /// Last change.
    pub updated: DateTime<Utc>,
    /// Everyone taking part, the owner first.
    pub participants: Vec<Participant>,
}

/// The validated fields of a session create.
#[derive(Debug, Clone, Default)]
pub struct NewSession {
    /// `name`, required.
    pub name: String,
    /// `type`, required.
    pub session_type: String,
    /// `speciality`.
    pub speciality: Option<String>,
    /// `estimatedDuration`.
    pub estimated_duration: Option<String>,
    /// `access` (`PRIVATE` when absent).
    pub access: Option<String>,
    /// `scheduledStart`, RFC 3339 (now when absent).
    pub scheduled_start: Option<String>,
}

/// Parses an RFC 3339 date (`2026-05-01T09:30:00.000Z`) into UTC, to milliseconds.
pub fn parse_date(path: &str, s: &str) -> Result<DateTime<Utc>, FieldError> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map(|t| DateTime::from_timestamp_millis(t.timestamp_millis()).unwrap_or(t))
        .map_err(|_| FieldError::new(path, format!("'{s}' is not an RFC 3339 date such as 2026-05-01T09:30:00.000Z.")))
}

fn check_term(
    path: &str,
    code: &str,
    find: fn(&str) -> Option<taxonomy::Term>,
    list: &str,
) -> Result<String, FieldError> {
    find(code)
        .map(|t| t.code.to_owned())
        .ok_or_else(|| FieldError::new(path, format!("'{code}' is not a code of /taxonomy/{list}.")))
}

fn check_access(s: &str) -> Result<SessionAccess, FieldError> {
    SessionAccess::parse(s).ok_or_else(|| FieldError::new("access", "access is PRIVATE or ORGANISATION."))
}

/// Collects the error of a check and keeps going, so every fault is reported at once.
fn keep<T>(faults: &mut Vec<FieldError>, r: Result<T, FieldError>) -> Option<T> {
    r.map_err(|e| faults.push(e)).ok()
}

impl LiveSession {
    /// A new scheduled session owned by `owner` (an active member of `org`), who
    /// becomes its first participant with every permission. `facility` and `room`
    /// were checked against the org's facilities by the caller.
    pub fn create(
        new: NewSession,
        org: Id,
        owner: Id,
        place: (Option<Id>, Option<Id>),
        now: DateTime<Utc>,
    ) -> Result<Self, Vec<FieldError>> {
        let mut faults = Vec::new();
        let name = keep(&mut faults, parse_name("name", &new.name));
        let session_type =
            keep(&mut faults, check_term("type", &new.session_type, taxonomy::session_type, "session/types"));
        let speciality = new
            .speciality
            .and_then(|s| keep(&mut faults, check_term("speciality", &s, taxonomy::speciality, "user/specialities")));
        let estimated_duration = new.estimated_duration.and_then(|s| {
            keep(&mut faults, check_term("estimatedDuration", &s, taxonomy::session_duration, "session/durations"))
        });
        let access = new.access.as_deref().map_or(Some(SessionAccess::Private), |s| keep(&mut faults, check_access(s)));
        let scheduled_start =
            new.scheduled_start.as_deref().map_or(Some(now), |s| keep(&mut faults, parse_date("scheduledStart", s)));
        let (Some(name), Some(session_type), Some(access), Some(scheduled_start), true) =
            (name, session_type, access, scheduled_start, faults.is_empty())
        else {
            return Err(faults);
        };
        let id = Id::generate(now);
        Ok(Self {
            id,
            org,
            owner,
            name,
            session_type,
            speciality,
            estimated_duration,
            access,
            facility: place.0,
            room: place.1,
            scheduled_start,
            state: SessionState::Scheduled,
            started: None,
            ended: None,
            created: now,
            updated: now,
            participants: vec![Participant::new(id, owner, org, Permissions::ALL, now)],
        })
    }

    /// The participant record of an account, if it takes part.
    pub fn participant(&self, account: Id) -> Option<&Participant> {
        self.participants.iter().find(|p| p.account == account)
    }

    /// The URL where the media server serves this session: `{base}/sessions/{id}`.
    pub fn media_url(&self, media_base: &str) -> String {
        format!("{}/sessions/{}", media_base.trim_end_matches('/'), self.id)
    }
}

/// The requested changes of a session PATCH, before validation. `Some(None)` clears
/// an optional field.
#[derive(Debug, Clone, Default)]
pub struct SessionPatch {
    /// `name`.
    pub name: Option<String>,
    /// `type`.
    pub session_type: Option<String>,
    /// `speciality`.
    pub speciality: Option<Option<String>>,
    /// `estimatedDuration`.
    pub estimated_duration: Option<Option<String>>,
    /// `access`.
    pub access: Option<String>,
    /// `scheduledStart`.
    pub scheduled_start: Option<String>,
}

/// The validated changes of a session, applied by the store in one conditional
/// UPDATE (never to an ended session). `place` sets facility and room together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionChanges {
    /// New name.
    pub name: Option<String>,
    /// New type code.
    pub session_type: Option<String>,
    /// New speciality code, or none.
    pub speciality: Option<Option<String>>,
    /// New duration code, or none.
    pub estimated_duration: Option<Option<String>>,
    /// New access.
    pub access: Option<SessionAccess>,
    /// New facility and room, checked together.
    pub place: Option<(Option<Id>, Option<Id>)>,
    /// New planned start.
    pub scheduled_start: Option<DateTime<Utc>>,
}

impl SessionPatch {
    /// Validates every requested change; every fault is reported at once.
    pub fn validate(self, place: Option<(Option<Id>, Option<Id>)>) -> Result<SessionChanges, Vec<FieldError>> {
        let mut faults = Vec::new();
        let mut changes = SessionChanges { place, ..SessionChanges::default() };
        if let Some(name) = self.name {
            changes.name = keep(&mut faults, parse_name("name", &name));
        }
        if let Some(t) = self.session_type {
            changes.session_type = keep(&mut faults, check_term("type", &t, taxonomy::session_type, "session/types"));
        }
        if let Some(s) = self.speciality {
            changes.speciality = match s {
                None => Some(None),
                Some(s) => {
                    keep(&mut faults, check_term("speciality", &s, taxonomy::speciality, "user/specialities")).map(Some)
                }
            };
        }
        if let Some(d) = self.estimated_duration {
            changes.estimated_duration = match d {
                None => Some(None),
                Some(d) => keep(
                    &mut faults,
                    check_term("estimatedDuration", &d, taxonomy::session_duration, "session/durations"),
                )
                .map(Some),
            };
        }
        if let Some(a) = self.access {
            changes.access = keep(&mut faults, check_access(&a));
        }
        if let Some(s) = self.scheduled_start {
            changes.scheduled_start = keep(&mut faults, parse_date("scheduledStart", &s));
        }
        if faults.is_empty() { Ok(changes) } else { Err(faults) }
    }
}

/// Which sessions a list covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionScope {
    /// Every session of an org (its admins' view).
    Org(Id),
    /// The sessions of an org that a member may read: those it takes part in and
    /// those with `ORGANISATION` access.
    OrgMember {
        /// The org.
        org: Id,
        /// The member's account.
        account: Id,
    },
    /// Every session, of any org, that an account takes part in and can reach: it
    /// is an active member of the owning org, or of the org its participation came
    /// in through (the recorded home org), and that org is enabled.
    Participant(Id),
}

/// A session list: the scope and the filters `state`, `owner` and `participant`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionQuery {
    /// Which sessions are visible.
    pub scope: SessionScope,
    /// Only sessions in this state.
    pub state: Option<SessionState>,
    /// Only sessions owned by this account.
    pub owner: Option<Id>,
    /// Only sessions this account takes part in.
    pub participant: Option<Id>,
}

/// Attaches participant rows (in any order) to their sessions, keeping each
/// session's owner first and the rest in the order they joined.
pub fn attach_participants(sessions: &mut [LiveSession], mut participants: Vec<Participant>) {
    participants.sort_by_key(|p| (p.created, p.id));
    for session in sessions.iter_mut() {
        let mut mine: Vec<Participant> = participants.iter().filter(|p| p.session == session.id).cloned().collect();
        mine.sort_by_key(|p| p.account != session.owner);
        session.participants = mine;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Clock;

    fn now() -> DateTime<Utc> {
        crate::SystemClock.now()
    }

    fn only(f: impl FnOnce(&mut Permissions)) -> Permissions {
        let mut p = Permissions::default();
        f(&mut p);
        p
    }

    #[test]
    fn permissions_round_trip_through_bits_and_json() {
        assert_eq!(Permissions::ALL.bits(), 0b11_1111);
        let drawings = only(|p| p.can_clear_all_drawings = true);
        assert_eq!(Permissions::from_bits(drawings.bits()), drawings);
        let shown = serde_json::to_value(drawings).unwrap();
        assert_eq!(shown["canClearAllDrawings"], true);
        assert_eq!(shown["canEndSession"], false);
        let parsed: Permissions = serde_json::from_value(serde_json::json!({"canEndSession": true})).unwrap();
        assert_eq!(parsed, only(|p| p.can_end_session = true));
        assert!(serde_json::from_value::<Permissions>(serde_json::json!({"canFly": true})).is_err());
        assert!(Permissions::ALL.covers(drawings));
        assert!(!drawings.covers(Permissions::ALL));
        assert!(drawings.covers(Permissions::default()));
    }

    #[test]
    fn states_move_only_forward_one_step() {
        use SessionState::*;
        assert!(Scheduled.check_move(Live).is_ok());
        assert!(Live.check_move(Ended).is_ok());
        for (from, to) in [(Scheduled, Ended), (Live, Live), (Ended, Live), (Ended, Ended), (Live, Scheduled)] {
            assert!(matches!(from.check_move(to), Err(DomainError::Conflict(_))), "{from:?} -> {to:?}");
        }
    }

    #[test]
    fn a_new_session_is_validated_against_the_taxonomy() {
        let (org, owner) = (Id::from_u96(1), Id::from_u96(2));
        let ok = NewSession {
            name: " Knee ".into(),
            session_type: "SURGERY".into(),
            speciality: Some("ORTHOPAEDIC_SURGERY".into()),
            estimated_duration: Some("PT2H".into()),
            access: None,
            scheduled_start: Some("2026-05-01T09:30:00.000Z".into()),
        };
        let s = LiveSession::create(ok.clone(), org, owner, (None, None), now()).unwrap();
        assert_eq!((s.name.as_str(), s.state, s.access), ("Knee", SessionState::Scheduled, SessionAccess::Private));
        assert_eq!(s.participants.len(), 1);
        assert_eq!((s.participants[0].account, s.participants[0].permissions), (owner, Permissions::ALL));
        assert_eq!(s.media_url("https://media.example/"), format!("https://media.example/sessions/{}", s.id));
        let bad = NewSession {
            name: String::new(),
            session_type: "KARAOKE".into(),
            speciality: Some("ASTROLOGY".into()),
            estimated_duration: Some("90".into()),
            access: Some("PUBLIC".into()),
            scheduled_start: Some("tomorrow".into()),
        };
        let faults = LiveSession::create(bad, org, owner, (None, None), now()).unwrap_err();
        let paths: Vec<&str> = faults.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["name", "type", "speciality", "estimatedDuration", "access", "scheduledStart"]);
    }

    #[test]
    fn a_patch_validates_only_what_it_changes() {
        let changes = SessionPatch { speciality: Some(None), name: Some("New".into()), ..SessionPatch::default() }
            .validate(None)
            .unwrap();
        assert_eq!(changes.speciality, Some(None));
        assert_eq!(changes.name.as_deref(), Some("New"));
        assert_eq!(changes.session_type, None);
        let faults =
            SessionPatch { access: Some("nope".into()), ..SessionPatch::default() }.validate(None).unwrap_err();
        assert_eq!(faults[0].path, "access");
    }

    #[test]
    fn participants_attach_to_their_sessions_owner_first() {
        let t = now();
        let (org, owner, guest) = (Id::from_u96(1), Id::from_u96(2), Id::from_u96(3));
        let new = NewSession { name: "S".into(), session_type: "SURGERY".into(), ..NewSession::default() };
        let mut s = LiveSession::create(new, org, owner, (None, None), t).unwrap();
        let owner_row = s.participants[0].clone();
        let early_guest = Participant::new(s.id, guest, org, Permissions::default(), t - chrono::Duration::seconds(5));
        let elsewhere = Participant::new(Id::from_u96(9), guest, org, Permissions::default(), t);
        attach_participants(std::slice::from_mut(&mut s), vec![elsewhere, early_guest.clone(), owner_row.clone()]);
        assert_eq!(s.participants, vec![owner_row, early_guest]);
    }
}
