//! Outgoing mail. Without SMTP configured, messages are appended to `mail.log` in
//! the data dir (JSON lines, readable only by the operator), so a first admin can be
//! bootstrapped on a machine with no mail server.

use std::io::Write;
use std::path::PathBuf;

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
