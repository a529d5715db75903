//! Outgoing mail. Without SMTP configured, messages are appended to `mail.log` in
//! the data dir (JSON lines, readable only by the operator), so a first admin can be
//! bootstrapped on a machine with no mail server.
//!
//! The text of every mail is an askama template in `templates/mail/`, one file per
//! mail: its first line is the subject, then a blank line, then the plain-text
//! body. This module holds what each template is given, not the words.

use std::io::Write;
use std::path::PathBuf;

use askama::Template;
use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::json;

use orgbase_domain::org::Org;

use crate::config::Config;
use crate::state::AppState;

/// The link of a public page that a mail points to (`/{org}/accept`, `/verify`,
/// `/reset`), carrying `token` in the URL fragment: browsers never send a fragment,
/// so the token reaches no server log, proxy or `Referer`; the page posts it in a
/// request body.
pub fn link(state: &AppState, org: &Org, page: &str, token: &str) -> String {
    format!("{}#token={token}", link_page(state, org, page))
}

/// The address of one of the org's public pages.
pub fn link_page(state: &AppState, org: &Org, page: &str) -> String {
    format!("{}/{}/{page}", state.config.public_url(), org.code)
}

/// One message.
#[derive(Debug, Clone)]
pub struct Mail {
    /// The recipient.
    pub to: String,
    /// The subject line.
    pub subject: String,
    /// The plain-text body.
    pub body: String,
}

impl Mail {
    /// The mail to `to` that `template` renders (subject line, blank line, body).
    pub fn render(to: String, template: &impl Template) -> Result<Self, askama::Error> {
        let text = template.render()?;
        let (subject, body) = text.split_once("\n\n").unwrap_or((&text, ""));
        // Template files end with a newline that the renderer drops; bodies keep it.
        Ok(Self { to, subject: subject.to_owned(), body: format!("{}\n", body.trim_end_matches('\n')) })
    }
}

/// The mail that verifies the email of a new account.
#[derive(Template)]
#[template(path = "mail/verification.txt")]
pub struct Verification<'a> {
    /// The org's name.
    pub org_name: &'a str,
    /// The link to the verification page, with its token.
    pub link: &'a str,
    /// How many hours the link stays valid.
    pub ttl_hours: i64,
}

/// The notice to the owner of an address that someone tried to register it again.
#[derive(Template)]
#[template(path = "mail/account_exists.txt")]
pub struct AccountExists<'a> {
    /// The org's name.
    pub org_name: &'a str,
    /// The address of the reset page (no token).
    pub reset_page: &'a str,
}

/// The mail with a password-reset link.
#[derive(Template)]
#[template(path = "mail/password_reset.txt")]
pub struct PasswordReset<'a> {
    /// The org's name.
    pub org_name: &'a str,
    /// The link to the reset page, with its token.
    pub link: &'a str,
    /// How many minutes the link stays valid.
    pub ttl_minutes: i64,
}

/// The mail that invites an email into an org.
#[derive(Template)]
#[template(path = "mail/invitation.txt")]
pub struct Invitation<'a> {
    /// The org's name.
    pub org_name: &'a str,
    /// The link to the accept page, with its token.
    pub link: &'a str,
    /// When the invitation expires, as the API renders dates.
    pub expires: &'a str,
}

/// Where mail goes.
#[derive(Clone)]
pub enum Mailer {
    /// Appends to a JSON-lines file.
    Log(PathBuf),
    /// Sends through an SMTP server.
    Smtp {
        /// The transport (`smtp://host:port`, `smtps://…`, `?tls=required`).
        transport: Box<AsyncSmtpTransport<Tokio1Executor>>,
        /// The `From` address.
        from: Mailbox,
    },
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Log(path) => f.debug_tuple("Log").field(path).finish(),
            Self::Smtp { from, .. } => f.debug_struct("Smtp").field("from", from).finish_non_exhaustive(),
        }
    }
}

impl Mailer {
    /// The mailer named by the config: SMTP when `smtp_url` is set, else the log.
    pub fn from_config(config: &Config) -> Result<Self, String> {
        let Some(url) = config.smtp_url.as_ref() else {
            return Ok(Self::Log(config.data_dir.join("mail.log")));
        };
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(&url.0)
            .map_err(|e| format!("smtp_url: {e}"))?
            .timeout(Some(std::time::Duration::from_secs(10)))
            .build();
        let from = config.mail_from.parse::<Mailbox>().map_err(|e| format!("mail_from: {e}"))?;
        Ok(Self::Smtp { transport: Box::new(transport), from })
    }

    /// Sends a message. Failures are logged, never shown to the caller (who must not
    /// learn whether an address exists).
    pub async fn send(&self, mail: Mail, created: chrono::DateTime<chrono::Utc>) {
        match self {
            Self::Smtp { transport, from } => {
                let to = match mail.to.parse::<Mailbox>() {
                    Ok(to) => to,
                    Err(e) => {
                        tracing::error!(error = %e, "unusable recipient address");
                        return;
                    }
                };
                let message = Message::builder()
                    .from(from.clone())
                    .to(to)
                    .subject(mail.subject)
                    .header(ContentType::TEXT_PLAIN)
                    .body(mail.body);
                match message {
                    Ok(message) => {
                        if let Err(e) = transport.send(message).await {
                            tracing::error!(error = %e, "mail delivery failed");
                        }
                    }
                    Err(e) => tracing::error!(error = %e, "could not build a mail"),
                }
            }
            Self::Log(path) => {
                let line = json!({"to": mail.to, "subject": mail.subject, "body": mail.body, "created": orgbase_domain::time::render_date(created)});
                let path = path.clone();
                let written = tokio::task::spawn_blocking(move || append_private(&path, &format!("{line}\n"))).await;
                if !matches!(written, Ok(Ok(()))) {
                    tracing::error!("could not write the mail log");
                }
            }
        }
    }
}

fn append_private(path: &PathBuf, line: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options.open(path)?.write_all(line.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    // The api tests read links and tokens from the sent mails; these pin the words.
    #[test]
    fn verification_mail_reads_as_before() {
        let tpl = Verification { org_name: "Acme", link: "https://x/acme/verify#token=t", ttl_hours: 48 };
        let mail = Mail::render("a@example.com".into(), &tpl).unwrap();
        assert_eq!(mail.subject, "Verify your email for Acme");
        assert_eq!(
            mail.body,
            "Someone registered an account with this address at Acme.\n\n\
             If it was you, open this link within 48 hours to verify your email and choose \
             your password:\nhttps://x/acme/verify#token=t\n\n\
             If it was not you, open it anyway and choose a password: the account becomes yours, and whoever \
             registered it loses it. Or ignore this mail.\n"
        );
    }

    #[test]
    fn account_exists_notice_reads_as_before() {
        let tpl = AccountExists { org_name: "Acme", reset_page: "https://x/acme/reset" };
        let mail = Mail::render("a@example.com".into(), &tpl).unwrap();
        assert_eq!(mail.subject, "Someone tried to register with your address at Acme");
        assert_eq!(
            mail.body,
            "Someone tried to register a new account at Acme with this address, which already has one.\n\n\
             If it was you, log in instead; if you forgot your password, reset it (https://x/acme/reset).\n\
             If it was not you, you need not do anything: your account is unchanged.\n"
        );
    }

    #[test]
    fn password_reset_mail_reads_as_before() {
        let tpl = PasswordReset { org_name: "Acme", link: "https://x/acme/reset#token=t", ttl_minutes: 60 };
        let mail = Mail::render("a@example.com".into(), &tpl).unwrap();
        assert_eq!(mail.subject, "Reset your Acme password");
        assert_eq!(
            mail.body,
            "Someone asked to reset the password of your account at Acme.\n\n\
             Open this link within 60 minutes to choose a new password:\nhttps://x/acme/reset#token=t\n\n\
             If it was not you, ignore this mail: your password is unchanged.\n"
        );
    }

    #[test]
    fn invitation_mail_reads_as_before() {
        let tpl =
            Invitation { org_name: "A & B", link: "https://x/ab/accept#token=t", expires: "2026-01-01T00:00:00.000Z" };
        let mail = Mail::render("a@example.com".into(), &tpl).unwrap();
        assert_eq!(mail.subject, "You are invited to join A & B");
        assert_eq!(
            mail.body,
            "You are invited to join A & B on orgbase.\n\n\
             Open this link to accept:\nhttps://x/ab/accept#token=t\n\n\
             The invitation expires at 2026-01-01T00:00:00.000Z.\n"
        );
    }
}
