//! Creating orgs and linking people into them, as the platform API and the CLI
//! both do: the first Administrator, added members, and the invitation mailed
//! instead when an address belongs to an unverified account. Also an org as an
//! operator sees it.

use orgbase_domain::account::{Account, PersonName};
use orgbase_domain::connection::Connection;
use orgbase_domain::email::Email;
use orgbase_domain::org::{NewOrg, Org, Viewer};
use orgbase_domain::roles::ADMINISTRATOR;
use orgbase_domain::store::{LinkRequest, Linked};
use orgbase_domain::{DomainError, Id};
use serde_json::{Map, Value};

use crate::fault::Fault;
use crate::flows::invitations::{mail_invitation, ttl};
use crate::state::AppState;

/// Renders an org for an operator: every property.
pub async fn render_for_operator(state: &AppState, org: &Org) -> Result<Map<String, Value>, Fault> {
    let apps = state.store.apps_of_org(org.id).await?;
    Ok(org.render(Viewer::Operator, &apps, false))
}

/// A request to make the holder of `email` a member of `org` with `roles`: the
/// account to make if none has the address (verified: the operator vouches for
/// it), and the invitation to send instead if an unverified account has it. The
/// second value is that invitation's token, for the mail.
pub fn link_request(
    state: &AppState,
    org: &Org,
    email: Email,
    name: PersonName,
    roles: Vec<Id>,
) -> (LinkRequest, String) {
    let now = state.clock.now();
    let (invitation, token) = Connection::new(org.id, email.clone(), None, roles.clone(), None, now + ttl(org), now);
    let account = Account::new(email, name, None, now).verified();
    (LinkRequest { account, roles, invitation }, token)
}

/// Mails the invitation of a link that could not be made at once.
pub async fn mail_if_invited(state: &AppState, org: &Org, linked: &Linked, token: &str) {
    if let Linked::Invited(connection) = linked {
        mail_invitation(state, org, connection, token).await;
    }
}

/// Validates and stores a new org, with its first Administrator when an email is
/// given, in one transaction; shared by the API and the CLI. An email that belongs
/// to an unverified account is never linked: it is invited (and mailed) instead.
pub async fn create_org_in(
    state: &AppState,
    new: NewOrg,
    admin_email: Option<&str>,
) -> Result<(Org, Option<Linked>), DomainError> {
    let now = state.clock.now();
    let mut faults = Vec::new();
    let org = Org::create(new, now).map_err(|e| faults.extend(e)).ok();
    let email = admin_email.and_then(|email| Email::parse("adminEmail", email).map_err(|e| faults.push(e)).ok());
    let Some(org) = org.filter(|_| faults.is_empty()) else {
        return Err(DomainError::Validation(faults));
    };
    let admin = email.map(|email| link_request(state, &org, email, PersonName::default(), vec![ADMINISTRATOR]));
    let linked = state.store.insert_org(&org, admin.as_ref().map(|(request, _)| request)).await?;
    if let (Some(linked), Some((_, token))) = (&linked, &admin) {
        mail_if_invited(state, &org, linked, token).await;
    }
    Ok((org, linked))
}
