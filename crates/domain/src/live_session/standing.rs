//! How a caller stands towards a live session ([`Standing`]), where an external
//! participant's home org comes from ([`home_org`]), and [`can`], the ONE access
//! decision of every session operation.

use super::{LiveSession, Permissions, SessionAccess};
use crate::{DomainError, Id};

/// What a caller tries to do with a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SessionOp {
    /// Read it (and its participants).
    Read,
    /// Change its fields.
    Edit,
    /// Move it from `scheduled` to `live`.
    Start,
    /// Move it from `live` to `ended`.
    End,
    /// Add a participant, change one's permissions, or remove one.
    ManageParticipants,
    /// Remove oneself.
    Leave,
    /// Fetch a media join token.
    Join,
    /// Delete it.
    Delete,
}

impl SessionOp {
    /// What the operation needs, for the reason of a refusal.
    pub const fn requirement(self) -> &'static str {
        match self {
            Self::Read => "Only participants and the session's org may read it.",
            Self::Edit => "Editing this session needs canEditSession.",
            Self::Start => "Starting this session needs canEditSession.",
            Self::End => "Ending this session needs canEndSession.",
            Self::ManageParticipants => "Managing participants needs canInviteParticipants.",
            Self::Leave => "The owner cannot leave the session.",
            Self::Join => "Only participants may join the session.",
            Self::Delete => "Only an administrator of the session's org may delete it.",
        }
    }
}

/// How the caller stands towards a session. `admin_of_owning_org` and
/// `member_of_owning_org` count only when the caller acts in the owning org (its
/// login session belongs there); elsewhere only a participation that came in
/// through that org counts. [`Standing::through`] builds it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Standing {
    /// The caller's permissions when it takes part.
    pub permissions: Option<Permissions>,
    /// The caller created the session.
    pub is_owner: bool,
    /// The caller is an active Administrator of the owning org.
    pub admin_of_owning_org: bool,
    /// The caller is an active member of the owning org.
    pub member_of_owning_org: bool,
}

impl Standing {
    /// How `account` stands towards `session` when it comes through the org
    /// `through`, where it is an active member (`admin_there`: an Administrator).
    /// Through the owning org everything counts. Through another org only a
    /// participation whose recorded home org is that org counts, so a participant
    /// never reaches a session through an org it did not come in by (a removed or
    /// suspended member reaches nothing through the org it left, and its other orgs
    /// do not stand in for it).
    pub fn through(session: &LiveSession, account: Id, through: Id, admin_there: bool) -> Self {
        let here = session.org == through;
        let participant = session.participant(account).filter(|p| here || p.home_org == through);
        Self {
            permissions: participant.map(|p| p.permissions),
            is_owner: here && session.owner == account,
            admin_of_owning_org: here && admin_there,
            member_of_owning_org: here,
        }
    }

    /// The permissions the caller holds: all six for the owner, none for a
    /// non-participant.
    pub fn effective(&self) -> Permissions {
        if self.is_owner { Permissions::ALL } else { self.permissions.unwrap_or_default() }
    }

    /// True when the caller takes part (the owner always does).
    pub fn takes_part(&self) -> bool {
        self.is_owner || self.permissions.is_some()
    }
}

/// THE access decision of every session operation:
/// - read: participants, the owning org's admins, and, when `access` is
///   `ORGANISATION`, the owning org's members;
/// - edit and start: `canEditSession`; end: `canEndSession`; managing
///   participants: `canInviteParticipants` (the owner holds all);
/// - leave: any participant but the owner; join: any participant;
/// - delete: an Administrator of the owning org.
pub fn can(op: SessionOp, standing: &Standing, access: SessionAccess) -> bool {
    let held = standing.effective();
    match op {
        SessionOp::Read => {
            standing.takes_part()
                || standing.admin_of_owning_org
                || (standing.member_of_owning_org && access == SessionAccess::Organisation)
        }
        SessionOp::Edit | SessionOp::Start => held.can_edit_session,
        SessionOp::End => held.can_end_session,
        SessionOp::ManageParticipants => held.can_invite_participants,
        SessionOp::Leave => standing.takes_part() && !standing.is_owner,
        SessionOp::Join => standing.takes_part(),
        SessionOp::Delete => standing.admin_of_owning_org,
    }
}

/// Checks that a caller who manages participants grants no permission it lacks
/// itself, so inviting never escalates.
pub fn check_grant(granter: &Standing, granted: Permissions) -> Result<(), DomainError> {
    if granter.effective().covers(granted) {
        Ok(())
    } else {
        Err(DomainError::AccessDenied {
            path: Some("permissions".into()),
            reason: "You cannot grant a permission you do not hold.".into(),
        })
    }
}

/// One membership of an account that could make it a participant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Membership {
    /// The org.
    pub org: Id,
    /// The member is active and the org is enabled.
    pub active: bool,
    /// The org's `security.allowExternalParticipants`.
    pub allows_external: bool,
}

/// The home org of a new participant of a session of `owning_org`: the owning org
/// when the account is an active member of it, otherwise the first org (in the
/// order given) where it is an active member and that allows external
/// participants. `None` otherwise, whatever the reason (no such account, active in
/// no org, or only in orgs that keep their members home): the inviter learns
/// neither whether the account exists nor where it belongs.
pub fn home_org(owning_org: Id, memberships: &[Membership]) -> Option<Id> {
    let mut active = memberships.iter().filter(|m| m.active);
    if active.clone().any(|m| m.org == owning_org) {
        return Some(owning_org);
    }
    active.find(|m| m.allows_external).map(|m| m.org)
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::Clock;
    use crate::live_session::{NewSession, Participant};

    fn now() -> DateTime<Utc> {
        crate::SystemClock.now()
    }

    fn only(f: impl FnOnce(&mut Permissions)) -> Permissions {
        let mut p = Permissions::default();
        f(&mut p);
        p
    }

    /// Every operation against every kind of caller: the table of SPEC's rules.
    #[test]
    fn the_access_decision_follows_the_table() {
        use SessionOp::*;
        let owner = Standing { is_owner: true, permissions: Some(Permissions::ALL), ..Standing::default() };
        let drawer = Standing { permissions: Some(only(|p| p.can_clear_all_drawings = true)), ..Standing::default() };
        let ender = Standing { permissions: Some(only(|p| p.can_end_session = true)), ..Standing::default() };
        let inviter = Standing { permissions: Some(only(|p| p.can_invite_participants = true)), ..Standing::default() };
        let editor = Standing { permissions: Some(only(|p| p.can_edit_session = true)), ..Standing::default() };
        let admin = Standing { admin_of_owning_org: true, member_of_owning_org: true, ..Standing::default() };
        let member = Standing { member_of_owning_org: true, ..Standing::default() };
        let stranger = Standing::default();
        let ops = [Read, Edit, Start, End, ManageParticipants, Leave, Join, Delete];
        // Expected answers per op, for PRIVATE access.
        let table: [(&str, Standing, [bool; 8]); 8] = [
            ("owner", owner, [true, true, true, true, true, false, true, false]),
            ("drawer", drawer, [true, false, false, false, false, true, true, false]),
            ("ender", ender, [true, false, false, true, false, true, true, false]),
            ("inviter", inviter, [true, false, false, false, true, true, true, false]),
            ("editor", editor, [true, true, true, false, false, true, true, false]),
            ("admin", admin, [true, false, false, false, false, false, false, true]),
            ("member", member, [false, false, false, false, false, false, false, false]),
            ("stranger", stranger, [false; 8]),
        ];
        for (who, standing, expected) in table {
            for (op, want) in ops.iter().zip(expected) {
                assert_eq!(can(*op, &standing, SessionAccess::Private), want, "{who} {op:?}");
            }
        }
        assert!(can(Read, &member, SessionAccess::Organisation));
        assert!(!can(Edit, &member, SessionAccess::Organisation));
        assert!(!can(Read, &stranger, SessionAccess::Organisation));
    }

    #[test]
    fn a_session_is_reached_through_its_org_or_the_participants_home_org_alone() {
        let t = now();
        let (a, b, c) = (Id::from_u96(0xa), Id::from_u96(0xb), Id::from_u96(0xc));
        let (owner, guest) = (Id::from_u96(1), Id::from_u96(2));
        let new = NewSession { name: "S".into(), session_type: "SURGERY".into(), ..NewSession::default() };
        let mut s = LiveSession::create(new, a, owner, (None, None), t).unwrap();
        s.participants.push(Participant::new(s.id, guest, b, only(|p| p.can_end_session = true), t));

        let at_home = Standing::through(&s, owner, a, true);
        assert!(at_home.is_owner && at_home.admin_of_owning_org && at_home.member_of_owning_org);
        // The owner is a member of C too: C does not stand in for A.
        assert_eq!(Standing::through(&s, owner, c, true), Standing::default());
        // The guest came in through B: B reaches it with the permissions granted…
        let via_b = Standing::through(&s, guest, b, true);
        assert_eq!((via_b.permissions.map(|p| p.can_end_session), via_b.admin_of_owning_org), (Some(true), false));
        // …and no other org of the guest's does.
        assert_eq!(Standing::through(&s, guest, c, false), Standing::default());
        assert!(!can(SessionOp::Read, &Standing::through(&s, guest, c, false), SessionAccess::Organisation));
    }

    #[test]
    fn nobody_grants_what_they_lack() {
        let owner = Standing { is_owner: true, ..Standing::default() };
        let inviter = Standing { permissions: Some(only(|p| p.can_invite_participants = true)), ..Standing::default() };
        assert!(check_grant(&owner, Permissions::ALL).is_ok());
        assert!(check_grant(&inviter, only(|p| p.can_invite_participants = true)).is_ok());
        assert!(matches!(check_grant(&inviter, Permissions::ALL), Err(DomainError::AccessDenied { .. })));
    }

    #[test]
    fn home_orgs_follow_membership_and_the_external_setting() {
        let (a, b, c) = (Id::from_u96(0xa), Id::from_u96(0xb), Id::from_u96(0xc));
        let m = |org, active, allows_external| Membership { org, active, allows_external };
        assert_eq!(home_org(a, &[m(b, true, true), m(a, true, false)]), Some(a));
        assert_eq!(home_org(a, &[m(c, true, false), m(b, true, true)]), Some(b));
        // Kept home, unknown, or active nowhere: the same answer for all three.
        assert_eq!(home_org(a, &[m(c, true, false)]), None);
        assert_eq!(home_org(a, &[]), None);
        assert_eq!(home_org(a, &[m(b, false, true), m(a, false, true)]), None);
    }
}
