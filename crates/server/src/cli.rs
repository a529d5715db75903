//! The `orgbase` command line: `serve`, `migrate`, and the operator commands for
//! orgs, apps (create, list, update, rotate-secret, disable, enable, delete),
//! accounts and members. Every command loads the same layered config.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use orgbase_domain::account::{Account, PersonName};
use orgbase_domain::app::{ActAs, RawAppChange};
use orgbase_domain::email::Email;
use orgbase_domain::org::{NewOrg, Org};
use orgbase_domain::paging::PageParams;
use orgbase_domain::sealed::SecretKey;
use orgbase_domain::store::ORG_SORT_FIELDS;
use orgbase_domain::store::{LinkRequest, Linked};
use orgbase_domain::{DomainError, SystemClock, password};
use serde_json::json;

use crate::config::{Config, Overrides};
use crate::flows::{apps, orgs};
use crate::responses::{AccountResponse, AppResponse, ConnectionResponse, ListResponse, MemberResponse};
use crate::state::{AppState, KeySource, SECRET_KEY_FILE, open_store, open_store_with, secret_key};

/// orgbase: organisations, members, roles, invitations and sessions, in one binary.
#[derive(Debug, Parser)]
#[command(name = "orgbase", version, about)]
pub struct Cli {
    /// The config file (default: `orgbase.toml` in the working directory).
    #[arg(long, global = true, env = "ORGBASE_CONFIG")]
    pub config: Option<PathBuf>,
    /// The database: `postgres://…`, or `sqlite:…` (default: SQLite in the data dir).
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    /// Where the embedded SQLite database lives (default `./orgbase-data`).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs the HTTP API.
    Serve {
        /// The address to listen on (default 127.0.0.1:8080).
        #[arg(long)]
        bind: Option<String>,
    },
    /// Runs the database migrations and exits.
    Migrate,
    /// Manages orgs.
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manages apps (API clients).
    #[command(subcommand)]
    App(AppCommand),
    /// Manages accounts.
    #[command(subcommand)]
    Account(AccountCommand),
    /// Manages members of orgs.
    #[command(subcommand)]
    Member(MemberCommand),
    /// Manages the key that seals app secrets in the database.
    #[command(subcommand)]
    Secrets(SecretsCommand),
}

/// `orgbase secrets …`.
#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Seals every app secret under a new key, in one transaction. The current key
    /// is the configured one (`ORGBASE_SECRET_KEY`) or the data dir's. With the
    /// data dir's key, the new key replaces it in its file; with a configured one,
    /// set `ORGBASE_SECRET_KEY` to the new key on every node before they start
    /// again (stop them first: a node with the old key can't open the secrets).
    RotateKey {
        /// Read the new key (64 hex characters) from standard input instead of
        /// making a random one.
        #[arg(long)]
        new_key_stdin: bool,
        #[command(flatten)]
        out: Output,
    },
}

/// `orgbase account …`.
#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// Creates an account, reading its password from standard input.
    Create {
        /// The email, unique on the platform.
        #[arg(long)]
        email: String,
        /// "First Last".
        #[arg(long)]
        name: String,
        /// Read the password from standard input (first line).
        #[arg(long, required = true)]
        password_stdin: bool,
        #[command(flatten)]
        out: Output,
    },
}

/// `orgbase member …`.
#[derive(Debug, Subcommand)]
pub enum MemberCommand {
    /// Makes the holder of an email a member of an org, with roles. A missing
    /// account is created without a password (it sets one by password reset); an
    /// account whose email is not verified is invited (mailed) instead.
    Add {
        /// The org's code.
        #[arg(long)]
        org: String,
        /// The account's email.
        #[arg(long)]
        email: String,
        /// Role codes, names or ids, comma-separated (`administrator,provider`).
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
        #[command(flatten)]
        out: Output,
    },
    /// Imports members in bulk from a CSV file without a header:
    /// `email,first,last,roles` with roles separated by `;`. Missing accounts are
    /// created without a password (they set one by password reset); accounts whose
    /// email is not verified are invited (mailed) instead, and listed.
    Import {
        /// The org's code.
        #[arg(long)]
        org: String,
        /// The CSV file.
        #[arg(long)]
        file: PathBuf,
        #[command(flatten)]
        out: Output,
    },
}

/// `orgbase org …`.
#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Creates an org.
    Create {
        /// The unique code, used in URLs.
        #[arg(long)]
        code: String,
        /// The label.
        #[arg(long)]
        name: String,
        /// A BCP 47 locale (default en_US).
        #[arg(long)]
        locale: Option<String>,
        /// An IANA time zone.
        #[arg(long)]
        tz: Option<String>,
        /// The first Administrator's email (linked, or created without a password).
        #[arg(long)]
        admin_email: Option<String>,
        #[command(flatten)]
        out: Output,
    },
    /// Lists orgs.
    List {
        #[command(flatten)]
        out: Output,
    },
}

/// `orgbase app …`. An app is named by its client key (`--app KEY`).
#[derive(Debug, Subcommand)]
pub enum AppCommand {
    /// Creates an app and prints its key and its secret (shown only this once).
    Create {
        /// The org's code.
        #[arg(long)]
        org: String,
        /// The app's label.
        #[arg(long)]
        name: String,
        /// A browser origin allowed by CORS; repeat for several.
        #[arg(long = "origin")]
        origins: Vec<String>,
        /// Refuse signed requests of version 1: only version 2 (which covers the
        /// nonce, the account, the query and the body) is accepted.
        #[arg(long)]
        require_signature_v2: bool,
        /// The accounts signed requests may act as (`Medable-Client-Account`):
        /// `all` (any active member, the default), `none`, or account ids
        /// separated by commas.
        #[arg(long, default_value = "all", value_parser = parse_act_as)]
        act_as: ActAs,
        /// Cookie-authenticated writes need no `Medable-Csrf-Token` when their
        /// `Origin` is one of the app's origins (the seed platform's `csrf: false`).
        #[arg(long)]
        no_csrf: bool,
        #[command(flatten)]
        out: Output,
    },
    /// Lists the apps of an org (never their secrets).
    List {
        /// The org's code.
        #[arg(long)]
        org: String,
        #[command(flatten)]
        out: Output,
    },
    /// Changes an app: what is given changes, the rest stays.
    Update {
        #[command(flatten)]
        target: AppTarget,
        /// A new label.
        #[arg(long)]
        name: Option<String>,
        /// A browser origin allowed by CORS; repeat for several. Replaces the list.
        #[arg(long = "origin")]
        origins: Vec<String>,
        /// Empties the list of origins.
        #[arg(long, conflicts_with = "origins")]
        no_origins: bool,
        /// `true` or `false`: whether cookie writes need `Medable-Csrf-Token`.
        #[arg(long)]
        csrf: Option<bool>,
        /// `true` or `false`: refuse signed requests of version 1.
        #[arg(long)]
        require_signature_v2: Option<bool>,
        /// `all`, `none`, or account ids separated by commas.
        #[arg(long, value_parser = parse_act_as)]
        act_as: Option<ActAs>,
        #[command(flatten)]
        out: Output,
    },
    /// Gives an app a new secret and prints it (shown only this once). The old
    /// secret keeps signing for `app_secret_grace` seconds (one day by default).
    RotateSecret {
        #[command(flatten)]
        target: AppTarget,
        #[command(flatten)]
        out: Output,
    },
    /// Disables an app: its key, its sessions' use of it, its signatures and its
    /// CORS origins stop working.
    Disable {
        #[command(flatten)]
        target: AppTarget,
        #[command(flatten)]
        out: Output,
    },
    /// Enables a disabled app again.
    Enable {
        #[command(flatten)]
        target: AppTarget,
        #[command(flatten)]
        out: Output,
    },
    /// Deletes an app for good.
    Delete {
        #[command(flatten)]
        target: AppTarget,
        #[command(flatten)]
        out: Output,
    },
}

/// The app a command works on.
#[derive(Debug, Args)]
pub struct AppTarget {
    /// The org's code.
    #[arg(long)]
    pub org: String,
    /// The app's client key.
    #[arg(long)]
    pub app: String,
}

fn parse_act_as(s: &str) -> Result<ActAs, String> {
    ActAs::parse(s).ok_or_else(|| format!("'{s}' is not `all`, `none` or account ids separated by commas"))
}

/// Output options.
#[derive(Debug, Args)]
pub struct Output {
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// Parses the command line and runs it.
pub async fn run() -> ExitCode {
    let cli = Cli::parse();
    match execute(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

fn describe(e: DomainError) -> String {
    match e {
        DomainError::Validation(errors) => {
            errors.iter().map(|e| format!("{}: {}", e.path, e.reason)).collect::<Vec<_>>().join("; ")
        }
        other => other.to_string(),
    }
}

async fn execute(cli: Cli) -> Result<(), String> {
    // Held until the command ends: dropping it flushes the logs.
    let (state, _logs) = open(&cli).await?;
    match cli.command {
        Command::Serve { .. } => serve(state).await,
        Command::Migrate => {
            println!("migrations applied ({})", state.store.backend());
            Ok(())
        }
        Command::Org(OrgCommand::Create { code, name, locale, tz, admin_email, out }) => {
            create_org(&state, NewOrg { code, name, locale, tz }, admin_email.as_deref(), &out).await
        }
        Command::Org(OrgCommand::List { out }) => list_orgs(&state, &out).await,
        Command::Account(AccountCommand::Create { email, name, password_stdin: _, out }) => {
            create_account(&state, &email, &name, &out).await
        }
        Command::Member(MemberCommand::Add { org, email, roles, out }) => {
            add_member(&state, &org, &email, &roles, &out).await
        }
        Command::Member(MemberCommand::Import { org, file, out }) => import_members(&state, &org, &file, &out).await,
        Command::App(command) => app_command(&state, command).await,
        Command::Secrets(SecretsCommand::RotateKey { new_key_stdin, out }) => {
            rotate_secret_key(&state, new_key_stdin, &out).await
        }
    }
}

/// Loads the config (the command line's overrides last), starts the logs of
/// `serve` (the guard that flushes them comes back), and opens the store every
/// command works on.
async fn open(cli: &Cli) -> Result<(AppState, Option<tracing_appender::non_blocking::WorkerGuard>), String> {
    let bind = match &cli.command {
        Command::Serve { bind } => bind.clone(),
        _ => None,
    };
    let overrides = Overrides { bind, data_dir: cli.data_dir.clone(), database_url: cli.database_url.clone() };
    let config = Config::load(cli.config.as_deref(), &overrides).map_err(|e| format!("config: {e}"))?;
    let logs =
        matches!(cli.command, Command::Serve { .. }).then(|| crate::telemetry::init_logs(&config.log_format)).flatten();
    let store = open_store(&config).await?;
    Ok((AppState::new(store, Arc::new(SystemClock), config)?, logs))
}

async fn create_org(state: &AppState, new: NewOrg, admin_email: Option<&str>, out: &Output) -> Result<(), String> {
    let (org, admin) = orgs::create_org_in(state, new, admin_email).await.map_err(describe)?;
    if out.json {
        let rendered = orgs::render_for_operator(state, &org).await.map_err(|f| f.reason)?;
        println!("{}", serde_json::Value::Object(rendered));
        return Ok(());
    }
    println!("created org {} ({}), id {}", org.code, org.props.name, org.id);
    match admin {
        Some(Linked::Member(_, admin)) if admin.password_hash.is_none() => {
            println!("administrator: {} (set a password with accounts/request-password-reset)", admin.email);
        }
        Some(Linked::Member(_, admin)) => println!("administrator: {}", admin.email),
        Some(Linked::Invited(invitation)) => println!(
            "{} belongs to an account whose email is not verified: it was invited (mailed) instead",
            invitation.email
        ),
        _ => {}
    }
    println!("next: orgbase app create --org {} --name \"My app\"", org.code);
    Ok(())
}

async fn list_orgs(state: &AppState, out: &Output) -> Result<(), String> {
    let mut params = PageParams { limit: Some("1000".into()), ..PageParams::default() };
    let mut all = Vec::new();
    loop {
        let req = params.validate(ORG_SORT_FIELDS).map_err(|_| "paging".to_owned())?;
        let page = state.store.list_orgs(&req).await.map_err(|e| e.to_string())?;
        let last = page.data.last().map(|o| o.id.to_string());
        all.extend(page.data);
        match last {
            Some(last) if page.has_more => params.starting_after = Some(last),
            _ => break,
        }
    }
    if out.json {
        let mut data = Vec::new();
        for org in &all {
            data.push(orgs::render_for_operator(state, org).await.map_err(|f| f.reason)?);
        }
        println!("{}", json!({"object": "list", "data": data, "hasMore": false}));
    } else {
        for org in &all {
            println!("{}\t{}\t{}\t{}", org.id, org.code, org.state.as_str(), org.props.name);
        }
    }
    Ok(())
}

async fn app_command(state: &AppState, command: AppCommand) -> Result<(), String> {
    let change = |enabled| RawAppChange { enabled: Some(enabled), ..RawAppChange::default() };
    match command {
        AppCommand::Create { org, name, origins, require_signature_v2, act_as, no_csrf, out } => {
            let raw = RawAppChange {
                origins: Some(origins),
                csrf: Some(!no_csrf),
                require_signature_v2: Some(require_signature_v2),
                act_as: Some(act_as.to_api()),
                ..RawAppChange::default()
            };
            create_app(state, &org, name, raw, &out).await
        }
        AppCommand::List { org, out } => list_apps(state, &org, &out).await,
        AppCommand::Update { target, name, origins, no_origins, csrf, require_signature_v2, act_as, out } => {
            let origins = if no_origins { Some(Vec::new()) } else { Some(origins).filter(|o| !o.is_empty()) };
            let act_as = act_as.map(|a| a.to_api());
            let raw = RawAppChange { name, origins, csrf, enabled: None, require_signature_v2, act_as };
            change_app(state, &target, raw, &out, "updated").await
        }
        AppCommand::Disable { target, out } => change_app(state, &target, change(false), &out, "disabled").await,
        AppCommand::Enable { target, out } => change_app(state, &target, change(true), &out, "enabled").await,
        AppCommand::RotateSecret { target, out } => {
            let org = org_named(state, &target.org).await?;
            let app = apps::rotate_secret(state, &org, &target.app).await.map_err(fault_text)?;
            if out.json {
                println!("{}", json!(AppResponse::with_secret(&app)));
            } else {
                println!("rotated the secret of app {} ({})", app.name, app.key);
                println!("secret: {}   (shown only now; keep it safe)", app.secret);
                if let Some(previous) = &app.previous_secret {
                    println!("the previous secret signs until {}", orgbase_domain::time::render_date(previous.until));
                }
            }
            Ok(())
        }
        AppCommand::Delete { target, out } => {
            let org = org_named(state, &target.org).await?;
            apps::delete_app(state, &org, &target.app).await.map_err(fault_text)?;
            if out.json {
                println!("{}", json!({"object": "result", "data": true}));
            } else {
                println!("deleted app {}", target.app);
            }
            Ok(())
        }
    }
}

async fn create_app(state: &AppState, org: &str, name: String, raw: RawAppChange, out: &Output) -> Result<(), String> {
    let org = org_named(state, org).await?;
    let app = apps::create_app(state, &org, name, raw).await.map_err(fault_text)?;
    if out.json {
        let mut shown = app.to_json();
        shown["secret"] = json!(app.secret);
        shown["org"] = json!(org.code);
        println!("{shown}");
    } else {
        println!("created app {} for org {}", app.name, org.code);
        println!("key:    {}", app.key);
        println!("secret: {}   (shown only now; keep it safe)", app.secret);
    }
    Ok(())
}

async fn list_apps(state: &AppState, org: &str, out: &Output) -> Result<(), String> {
    let org = org_named(state, org).await?;
    let apps = state.store.apps_of_org(org.id).await.map_err(|e| e.to_string())?;
    if out.json {
        println!("{}", json!(ListResponse::all(apps.iter().map(AppResponse::from).collect())));
    } else {
        for app in &apps {
            let state = if app.enabled { "enabled" } else { "disabled" };
            println!("{}\t{}\t{}\tcsrf={}\t{}", app.key, state, app.name, app.csrf, app.cors_origins.join(","));
        }
    }
    Ok(())
}

async fn change_app(
    state: &AppState,
    target: &AppTarget,
    raw: RawAppChange,
    out: &Output,
    done: &str,
) -> Result<(), String> {
    let org = org_named(state, &target.org).await?;
    let app = apps::update_app(state, &org, &target.app, raw).await.map_err(fault_text)?;
    if out.json {
        println!("{}", json!(AppResponse::from(&app)));
    } else {
        println!("{done} app {} ({})", app.name, app.key);
    }
    Ok(())
}

/// A fault as one line for the operator: its reason, and each cause with its path.
fn fault_text(fault: crate::fault::Fault) -> String {
    let causes: Vec<String> =
        fault.faults.iter().map(|f| format!("{}: {}", f.path.as_deref().unwrap_or(""), f.reason)).collect();
    if causes.is_empty() { fault.reason } else { causes.join("; ") }
}

async fn rotate_secret_key(state: &AppState, new_key_stdin: bool, out: &Output) -> Result<(), String> {
    let (old, source) = secret_key(&state.config)?;
    let new = if new_key_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map_err(|e| format!("reading the new key: {e}"))?;
        SecretKey::parse_hex(&line)?
    } else {
        SecretKey::generate()
    };
    // The data dir's new key is on disk before any secret is sealed under it.
    let file = state.config.data_dir.join(SECRET_KEY_FILE);
    let pending = file.with_extension("key.new");
    if source == KeySource::DataDir {
        write_key_file(&pending, &new).map_err(|e| format!("{}: {e}", pending.display()))?;
    }
    let store = open_store_with(&state.config, new.clone()).await?;
    let resealed = match store.reseal_app_secrets(Some(&old)).await {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&pending);
            return Err(format!("nothing changed: {e}"));
        }
    };
    if source == KeySource::DataDir {
        std::fs::rename(&pending, &file).map_err(|e| format!("{}: {e}", file.display()))?;
    }
    // Shown only when the operator must put it in the config and did not give it.
    let shown = (source == KeySource::Config && !new_key_stdin).then(|| new.to_hex());
    if out.json {
        println!("{}", json!({"object": "result", "data": {"apps": resealed, "newKey": shown}}));
    } else {
        println!("sealed the secrets of {resealed} apps under the new key");
        match shown {
            Some(key) => println!("set ORGBASE_SECRET_KEY={key} on every node, then start them"),
            None if source == KeySource::Config => println!("set ORGBASE_SECRET_KEY to the new key on every node"),
            None => println!("the new key is in {}", file.display()),
        }
    }
    Ok(())
}

/// Writes a key file readable by its owner only.
fn write_key_file(file: &std::path::Path, key: &SecretKey) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(file)?;
    f.write_all(key.to_hex().as_bytes())?;
    f.sync_all()
}

/// The org with this code, or a message for the operator.
async fn org_named(state: &AppState, code: &str) -> Result<Arc<orgbase_domain::org::Org>, String> {
    state.store.org_by_code(code).await.map_err(|e| e.to_string())?.ok_or_else(|| format!("no org with code '{code}'"))
}

/// The smallest password policy of any org; an org may ask for more at login.
const CLI_MIN_PASSWORD: u32 = 8;

async fn create_account(state: &AppState, email: &str, name: &str, out: &Output) -> Result<(), String> {
    let email = Email::parse("email", email).map_err(|e| e.reason)?;
    let name = PersonName::from_full(name).validate("name").map_err(|e| e.reason)?;
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(|e| format!("reading the password: {e}"))?;
    let password = line.trim_end_matches(['\r', '\n']);
    password::check_policy("password", password, CLI_MIN_PASSWORD).map_err(|e| e.reason)?;
    let hash = password::hash(password).map_err(|e| e.to_string())?;
    // The operator vouches for the address.
    let account = Account::new(email, name, Some(hash), state.clock.now()).verified();
    state.store.insert_account(&account, None).await.map_err(|e| e.to_string())?;
    if out.json {
        println!("{}", json!(AccountResponse::from(&account)));
    } else {
        println!("created account {} ({})", account.email, account.id);
    }
    Ok(())
}

async fn add_member(state: &AppState, org: &str, email: &str, roles: &[String], out: &Output) -> Result<(), String> {
    let org = org_named(state, org).await?;
    let email = Email::parse("email", email).map_err(|e| e.reason)?;
    let roles = org.resolve_roles("roles", roles).map_err(|e| e.reason)?;
    let (request, token) = orgs::link_request(state, &org, email.clone(), PersonName::default(), roles);
    let linked = state.store.link_member(org.id, &request, state.clock.now()).await.map_err(|e| e.to_string())?;
    orgs::mail_if_invited(state, &org, &linked, &token).await;
    match (&linked, out.json) {
        (Linked::Member(member, _), true) => println!("{}", json!(MemberResponse::from(member))),
        (Linked::Member(member, _), false) => println!("{email} is now a member of {} ({})", org.code, member.id),
        (Linked::Invited(invitation), true) => println!("{}", json!(ConnectionResponse::from(invitation))),
        (Linked::Invited(_), false) => {
            println!("{email} belongs to an account whose email is not verified: it was invited (mailed) instead")
        }
        (Linked::AlreadyMember, _) => return Err(format!("{email} is already a member of {}", org.code)),
        (Linked::AlreadyInvited, _) => {
            return Err(format!("{email} is not verified and already has a pending invitation to {}", org.code));
        }
    }
    Ok(())
}

/// Rows per transaction of an import.
const IMPORT_BATCH: usize = 1000;

/// What an import did, row by row.
#[derive(Default)]
struct Imported {
    added: u64,
    invited: Vec<String>,
}

impl Imported {
    async fn flush(
        &mut self,
        state: &AppState,
        org: &Org,
        batch: &mut Vec<(LinkRequest, String)>,
    ) -> Result<(), String> {
        let requests: Vec<LinkRequest> = batch.iter().map(|(request, _)| request.clone()).collect();
        let linked =
            state.store.import_members(org.id, &requests, state.clock.now()).await.map_err(|e| e.to_string())?;
        for (outcome, (_, token)) in linked.iter().zip(batch.iter()) {
            match outcome {
                Linked::Member(..) => self.added += 1,
                Linked::Invited(invitation) => {
                    orgs::mail_if_invited(state, org, outcome, token).await;
                    self.invited.push(invitation.email.to_string());
                }
                Linked::AlreadyMember | Linked::AlreadyInvited => {}
            }
        }
        batch.clear();
        Ok(())
    }
}

async fn import_members(state: &AppState, org: &str, file: &std::path::Path, out: &Output) -> Result<(), String> {
    let org = org_named(state, org).await?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_path(file)
        .map_err(|e| format!("{}: {e}", file.display()))?;
    let (mut batch, mut imported, mut line) = (Vec::with_capacity(IMPORT_BATCH), Imported::default(), 0usize);
    for record in reader.records() {
        line += 1;
        let record = record.map_err(|e| format!("line {line}: {e}"))?;
        batch.push(import_row(state, &org, &record).map_err(|reason| format!("line {line}: {reason}"))?);
        if batch.len() == IMPORT_BATCH {
            imported.flush(state, &org, &mut batch).await?;
        }
    }
    imported.flush(state, &org, &mut batch).await?;
    print_import(&org, line, imported, out);
    Ok(())
}

/// The link request of one CSV row (`email,first,last,roles`), or why it is wrong.
fn import_row(state: &AppState, org: &Org, record: &csv::StringRecord) -> Result<(LinkRequest, String), String> {
    let field = |i: usize| record.get(i).unwrap_or_default();
    let email = Email::parse("email", field(0)).map_err(|e| e.reason)?;
    let name = PersonName { first: field(1).into(), last: field(2).into() }.validate("name").map_err(|e| e.reason)?;
    let roles: Vec<String> = field(3).split(';').filter(|r| !r.trim().is_empty()).map(str::to_owned).collect();
    let roles = org.resolve_roles("roles", &roles).map_err(|e| e.reason)?;
    Ok(orgs::link_request(state, org, email, name, roles))
}

fn print_import(org: &Org, rows: usize, imported: Imported, out: &Output) {
    let Imported { added, invited } = imported;
    if out.json {
        println!("{}", json!({"object": "result", "data": {"rows": rows, "added": added, "invited": invited}}));
        return;
    }
    println!("imported {added} new members into {} ({rows} rows)", org.code);
    if !invited.is_empty() {
        println!(
            "{} addresses belong to accounts whose email is not verified; they were invited instead:",
            invited.len()
        );
        for email in &invited {
            println!("  {email}");
        }
    }
}

async fn serve(state: AppState) -> Result<(), String> {
    let bind = state.config.bind.clone();
    let listener = tokio::net::TcpListener::bind(&bind).await.map_err(|e| format!("bind {bind}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(%addr, backend = state.store.backend(), "orgbase listening");
    // Make (or load) the media signing key now, so a bad data dir shows at start.
    if let Err(e) = state.media.key().await {
        tracing::error!(error = %e, "no media signing key: session join tokens will fail until this is fixed");
    }
    let first = PageParams { limit: Some("1".into()), ..PageParams::default() }
        .validate(ORG_SORT_FIELDS)
        .map_err(|_| "paging".to_owned())?;
    if state.store.list_orgs(&first).await.map_err(|e| e.to_string())?.data.is_empty() {
        // Not `eprintln!`, which panics when stderr cannot be written (a full disk).
        let _ = writeln!(
            std::io::stderr(),
            "orgbase is running on http://{addr} with no org yet. Create one:\n  \
             orgbase org create --code example --name Example\n  \
             orgbase app create --org example --name \"My app\""
        );
    }
    let store = state.store.clone();
    crate::serve(listener, state, crate::shutdown_signal()).await.map_err(|e| e.to_string())?;
    drop(store);
    Ok(())
}
