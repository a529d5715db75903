//! Outgoing mail. Without SMTP configured, messages are appended to `mail.log` in
//! the data dir (JSON lines, readable only by the operator), so a first admin can be
//! bootstrapped on a machine with no mail server.

use std::io::Write;
use std::path::PathBuf;

use serde_json::json;

use crate::config::Config;

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
#[derive(Debug, Clone)]
pub enum Mailer {
    /// Appends to a JSON-lines file.
    Log(PathBuf),
}

impl Mailer {
    /// The mailer named by the config.
    pub fn from_config(config: &Config) -> Self {
        Self::Log(config.data_dir.join("mail.log"))
    }

    /// Sends a message. Failures are logged, never shown to the caller (who must not
    /// learn whether an address exists).
    pub async fn send(&self, mail: Mail, created: chrono::DateTime<chrono::Utc>) {
        match self {
            Self::Log(path) => {
                let line = json!({"to": mail.to, "subject": mail.subject, "body": mail.body, "created": orgbase_domain::org::render_date(created)});
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
