//! Self-registration into an org: the org's registration settings, the new
//! account's fields, and what happens to a taken address (its owner is told, the
//! caller is answered as for a new account). With an invitation token it becomes
//! an acceptance ([`crate::flows::invitations::register_with_token`]).

use std::sync::Arc;

use orgbase_domain::StoreError;
use orgbase_domain::account::{Account, Member, PersonName};
use orgbase_domain::email::Email;
use orgbase_domain::org::Org;
use orgbase_domain::password;

use crate::fault::Fault;
use crate::flows::account_links::{after_answer, mail_registration_attempt, send_verification};
use crate::flows::invitations::register_with_token;
use crate::flows::passwords::hash_password;
use crate::sensitive::Sensitive;
use crate::state::AppState;

/// What a registration asks for, as received.
#[derive(Debug)]
pub struct Registration {
    /// The email, unique on the platform.
    pub email: String,
    /// The person's name.
    pub name: PersonName,
    /// The password.
    pub password: Sensitive,
    /// An invitation token: registers and accepts in one step.
    pub connection: Option<Sensitive>,
}

/// Registers an account in `org` and makes it a member with the org's default
/// roles, then mails a link that verifies the email. A taken email gives the same
/// answer, and its owner gets a notice instead. Returns the account as shown.
pub async fn register(state: &AppState, org: &Arc<Org>, new: Registration) -> Result<Account, Fault> {
    let registration = &org.props.registration;
    if new.connection.is_none() && (!registration.allow || registration.invitation_required) {
        return Err(Fault::access_denied("Registration is closed: joining this org needs an invitation."));
    }
    let (email, name) = valid_fields(org, &new)?;
    let hash = hash_password(new.password.into_inner()).await?;
    let now = state.clock.now();
    let account = Account::new(email, name, Some(hash), now);
    if let Some(token) = &new.connection {
        return register_with_token(state, org, token.expose(), account).await;
    }
    let member = Member::new(org.id, account.id, registration.default_roles.clone(), now);
    match state.store.insert_account(&account, Some(&member)).await {
        Ok(()) => after_answer(send_verification(state.clone(), org.clone(), account.clone())),
        // Answered as a new registration is: the owner of the address is told instead.
        Err(StoreError::Exists(_)) => {
            after_answer(mail_registration_attempt(state.clone(), org.clone(), account.email.clone()))
        }
        Err(e) => return Err(e.into()),
    }
    Ok(account)
}

/// The email and name of a registration, or every field error at once (the
/// password's policy included).
fn valid_fields(org: &Org, new: &Registration) -> Result<(Email, PersonName), Fault> {
    let mut faults = Vec::new();
    let email = Email::parse("email", &new.email).map_err(|e| faults.push(e)).ok();
    let name = new.name.clone().validate("name").map_err(|e| faults.push(e)).ok();
    let min = org.props.security.password_min_length;
    let _ = password::check_policy("password", new.password.expose(), min).map_err(|e| faults.push(e));
    match (email, name, faults.is_empty()) {
        (Some(email), Some(name), true) => Ok((email, name)),
        _ => Err(Fault::validation(faults)),
    }
}
