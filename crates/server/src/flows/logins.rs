//! Who a login is: the account that an email and password name, if the org lets
//! it in. Not the session that follows (`crate::auth::start_login_session`).

use std::sync::Arc;

use orgbase_domain::account::Account;
use orgbase_domain::email::Email;
use orgbase_domain::org::Org;

use crate::fault::Fault;
use crate::flows::account_links::{after_answer, send_verification};
use crate::flows::passwords::verify_password;
use crate::state::AppState;

/// The account with `email` whose password is `password`. An unknown email and a
/// wrong password fail alike, in the same time. When the org asks for a verified
/// email and this account's is not, a new verification link is mailed and the
/// login fails (only the holder of the password learns that).
pub async fn authenticate(
    state: &AppState,
    org: &Arc<Org>,
    email: Option<Email>,
    password: String,
) -> Result<Account, Fault> {
    let account = match email {
        Some(email) => state.store.account_by_email(&email).await?,
        None => None,
    };
    let stored = account.as_ref().and_then(|a| a.password_hash.clone());
    // An unknown email still verifies (against a dummy hash), so both failures take
    // the same time and give the same fault.
    let ok = verify_password(password, stored).await?;
    let (true, Some(account)) = (ok, account) else {
        return Err(Fault::invalid_credentials());
    };
    if org.props.registration.activation_required && !account.verified {
        // Only the holder of the password learns this; the mail goes to the address.
        after_answer(send_verification(state.clone(), org.clone(), account));
        return Err(Fault::email_not_verified());
    }
    Ok(account)
}
