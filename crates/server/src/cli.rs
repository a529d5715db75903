//! The `orgbase` command line: `serve`, `migrate`, and the operator commands for
//! orgs and apps. Every command loads the same layered config.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{Args, Parser, Subcommand};
use orgbase_domain::app::App;
use orgbase_domain::org::NewOrg;
use orgbase_domain::paging::PageParams;
use orgbase_domain::store::ORG_SORT_FIELDS;
use orgbase_domain::{DomainError, SystemClock};
use serde_json::json;

use crate::config::{Config, Overrides};
use crate::routes::platform;
use crate::state::{AppState, open_store};

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
        #[command(flatten)]
        out: Output,
    },
    /// Lists orgs.
    List {
        #[command(flatten)]
        out: Output,
    },
}

/// `orgbase app …`.
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
        #[command(flatten)]
        out: Output,
    },
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
    let bind = match &cli.command {
        Command::Serve { bind } => bind.clone(),
        _ => None,
    };
    let overrides = Overrides { bind, data_dir: cli.data_dir.clone(), database_url: cli.database_url.clone() };
    let config = Config::load(cli.config.as_deref(), &overrides).map_err(|e| format!("config: {e}"))?;
    if matches!(cli.command, Command::Serve { .. }) {
        crate::telemetry::init_logs(&config.log_format);
    }
    let store = open_store(&config).await.map_err(|e| format!("database: {e}"))?;
    let state = AppState { store, clock: Arc::new(SystemClock), config: Arc::new(config) };
    match cli.command {
        Command::Serve { .. } => serve(state).await,
        Command::Migrate => {
            println!("migrations applied ({})", state.store.backend());
            Ok(())
        }
        Command::Org(OrgCommand::Create { code, name, locale, tz, out }) => {
            let org = platform::create_org_in(&state, NewOrg { code, name, locale, tz }).await.map_err(describe)?;
            if out.json {
                let rendered = platform::render_for_operator(&state, &org).await.map_err(|f| f.reason)?;
                println!("{rendered}");
            } else {
                println!("created org {} ({}), id {}", org.code, org.props.name, org.id);
                println!("next: orgbase app create --org {} --name \"My app\"", org.code);
            }
            Ok(())
        }
        Command::Org(OrgCommand::List { out }) => {
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
                    data.push(platform::render_for_operator(&state, org).await.map_err(|f| f.reason)?);
                }
                println!("{}", json!({"object": "list", "data": data, "hasMore": false}));
            } else {
                for org in &all {
                    println!("{}\t{}\t{}\t{}", org.id, org.code, org.state.as_str(), org.props.name);
                }
            }
            Ok(())
        }
        Command::App(AppCommand::Create { org, name, origins, out }) => {
            let org = state
                .store
                .org_by_code(&org)
                .await
                .map_err(|e| e.to_string())?
                .ok_or_else(|| format!("no org with code '{org}'"))?;
            let name = orgbase_domain::org::parse_name("name", &name).map_err(|e| e.reason)?;
            let app = App::new(org.id, name, origins, state.clock.now());
            state.store.insert_app(&app).await.map_err(|e| e.to_string())?;
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
    }
}

async fn serve(state: AppState) -> Result<(), String> {
    let bind = state.config.bind.clone();
    let listener = tokio::net::TcpListener::bind(&bind).await.map_err(|e| format!("bind {bind}: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    tracing::info!(%addr, backend = state.store.backend(), "orgbase listening");
    let first = PageParams { limit: Some("1".into()), ..PageParams::default() }
        .validate(ORG_SORT_FIELDS)
        .map_err(|_| "paging".to_owned())?;
    if state.store.list_orgs(&first).await.map_err(|e| e.to_string())?.data.is_empty() {
        eprintln!(
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
