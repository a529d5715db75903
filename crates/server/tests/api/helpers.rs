//! `TestApp::spawn`: a real server on 127.0.0.1:0 with a fresh database, a manual
//! clock, and helpers to seed orgs and apps and to make requests.

use std::sync::Arc;

use orgbase_domain::account::{Account, Member, PersonName};
use orgbase_domain::app::App;
use orgbase_domain::email::Email;
use orgbase_domain::org::{NewOrg, Org, OrgProps};
use orgbase_domain::{Clock, Id, ManualClock};
use orgbase_server::config::{Config, Secret};
use orgbase_server::state::{AppState, open_store};
use reqwest::{Method, RequestBuilder};
use serde_json::Value;
use tokio::sync::oneshot;

/// The operator token of test servers.
pub const OPERATOR_TOKEN: &str = "test-operator-token-0123456789";
/// The key that seals app secrets on PostgreSQL test servers (SQLite ones make
/// their own in the data dir).
pub const SECRET_KEY: &str = "5ea1ed5ec7e75ea1ed5ec7e75ea1ed5ec7e75ea1ed5ec7e75ea1ed5ec7e7abcd";
/// The media signing key of test servers.
pub const MEDIA_KEY: &str = "test-media-signing-key-0123456789abcdef";

/// Which database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The PostgreSQL server for tests. Unset is a failure, not a skip: run the suite
/// with `scripts/test`, which sets it, or filter out `postgres::` explicitly.
pub fn postgres_base_url() -> String {
    std::env::var("ORGBASE_TEST_POSTGRES_URL").unwrap_or_else(|_| {
        panic!(
            "ORGBASE_TEST_POSTGRES_URL is not set. Run `scripts/test` (it points at 127.0.0.1:5432), \
             or run only the SQLite half with `cargo nextest run -E 'not test(/postgres::/)'`."
        )
    })
}

/// A running server and what it runs on.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub state: AppState,
    pub clock: Arc<ManualClock>,
    pub backend: Backend,
    database_url: Option<String>,
    shutdown: Option<oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

impl TestApp {
    /// Starts a server on a fresh database of `backend`.
    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, None).await
    }

    /// Starts a server whose config `tweak` adjusts first.
    pub async fn spawn_configured(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Self {
        Self::spawn_full(backend, None, tweak).await
    }

    /// Starts another node on this server's database, with the same clock and
    /// config (PostgreSQL: several nodes of one deployment). Its `finish` leaves
    /// the database to the first node's.
    pub async fn spawn_node(&self) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = Config { data_dir: dir.path().to_path_buf(), ..(*self.state.config).clone() };
        Self::serve(config, Arc::clone(&self.clock), self.backend, None, dir).await
    }

    /// Starts a server whose mail goes to a real SMTP server process (aiosmtpd).
    pub async fn spawn_with_smtp(backend: Backend) -> (Self, SmtpSink) {
        let sink = SmtpSink::start().await;
        let app = Self::spawn_with(backend, Some(format!("smtp://127.0.0.1:{}", sink.port))).await;
        (app, sink)
    }

    async fn spawn_with(backend: Backend, smtp_url: Option<String>) -> Self {
        Self::spawn_full(backend, smtp_url, |_| {}).await
    }

    async fn spawn_full(backend: Backend, smtp_url: Option<String>, tweak: impl FnOnce(&mut Config)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let clock = Arc::new(ManualClock::new());
        let database_url = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(
                orgbase_store_postgres::testing::fresh_schema_url(&postgres_base_url(), clock.now().timestamp())
                    .await
                    .expect("PostgreSQL is reachable at ORGBASE_TEST_POSTGRES_URL"),
            ),
        };
        let mut config = Config {
            bind: "127.0.0.1:0".into(),
            data_dir: dir.path().to_path_buf(),
            database_url: database_url.clone().map(Secret),
            operator_token: Some(Secret(OPERATOR_TOKEN.into())),
            media_signing_key: Some(Secret(MEDIA_KEY.into())),
            secret_key: (backend == Backend::Postgres).then(|| Secret(SECRET_KEY.into())),
            body_limit: 64 * 1024,
            smtp_url: smtp_url.map(Secret),
            ..Config::default()
        };
        tweak(&mut config);
        Self::serve(config, clock, backend, database_url, dir).await
    }

    async fn serve(
        config: Config,
        clock: Arc<ManualClock>,
        backend: Backend,
        database_url: Option<String>,
        dir: tempfile::TempDir,
    ) -> Self {
        let store = open_store(&config).await.expect("open store");
        let state = AppState::new(store, clock.clone(), config).expect("state");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let (tx, rx) = oneshot::channel::<()>();
        let served = state.clone();
        tokio::spawn(async move {
            orgbase_server::serve(listener, served, async {
                let _ = rx.await;
            })
            .await
            .expect("serve");
        });
        let client = reqwest::Client::builder().build().expect("client");
        Self { base, client, state, clock, backend, database_url, shutdown: Some(tx), _dir: dir }
    }

    /// Stops the server and drops a PostgreSQL test schema.
    pub async fn finish(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(url) = &self.database_url {
            let _ = orgbase_store_postgres::testing::drop_schema(&postgres_base_url(), url).await;
        }
    }

    /// The config the server runs with.
    pub fn config(&self) -> &Config {
        &self.state.config
    }

    /// Creates an org and an app through the store, as the CLI does.
    pub async fn seed_org(&self, code: &str, name: &str) -> (Org, App) {
        self.seed_org_with(code, name, |_| {}).await
    }

    /// Creates an org whose properties `tweak` adjusts first, and an app.
    pub async fn seed_org_with(&self, code: &str, name: &str, tweak: impl FnOnce(&mut OrgProps)) -> (Org, App) {
        let mut org = Org::create(
            NewOrg { code: code.into(), name: name.into(), locale: Some("en_US".into()), tz: None },
            self.clock.now(),
        )
        .expect("valid org");
        tweak(&mut org.props);
        self.state.store.insert_org(&org, None).await.expect("insert org");
        let app = App::new(org.id, "web".into(), vec![], self.clock.now());
        self.state.store.insert_app(&app).await.expect("insert app");
        (org, app)
    }

    /// Creates an account with a password and, with `roles`, a membership in `org`.
    pub async fn seed_account(&self, email: &str, password: &str, org: Option<(&Org, &[Id])>) -> Account {
        let email = Email::parse("email", email).expect("email");
        let hash = orgbase_domain::password::hash(password).expect("hash");
        // As `orgbase account create` makes it: the operator vouches for the address.
        let account =
            Account::new(email, PersonName { first: "Test".into(), last: "User".into() }, Some(hash), self.clock.now())
                .verified();
        let member = org.map(|(org, roles)| Member::new(org.id, account.id, roles.to_vec(), self.clock.now()));
        self.state.store.insert_account(&account, member.as_ref()).await.expect("insert account");
        account
    }

    /// Logs in with the bearer flow (`"bearer": true`) and returns the session token.
    pub async fn login(&self, org: &str, key: &str, email: &str, password: &str) -> String {
        let res = self
            .request(Method::POST, &format!("/{org}/v2/accounts/login"))
            .header("Medable-Client-Key", key)
            .json(&serde_json::json!({"email": email, "password": password, "bearer": true}))
            .send()
            .await
            .expect("login");
        let (status, body) = json(res).await;
        assert_eq!(status, 200, "login: {body}");
        body["token"].as_str().expect("token").to_owned()
    }

    /// Seeds a member of `org` with `roles` and logs it in; returns its bearer token.
    pub async fn member_token(&self, org: &Org, key: &App, email: &str, roles: &[Id]) -> String {
        self.seed_account(email, "member password 1", Some((org, roles))).await;
        self.login(org.code.as_str(), &key.key, email, "member password 1").await
    }

    /// A request to a path on the server.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.client.request(method, format!("{}{path}", self.base))
    }

    /// A request with a client key and, when given, a bearer token.
    pub fn api(&self, method: Method, path: &str, key: &str, token: Option<&str>) -> RequestBuilder {
        let req = self.request(method, path).header("Medable-Client-Key", key);
        match token {
            Some(token) => req.bearer_auth(token),
            None => req,
        }
    }

    /// A GET with the seed's client key header.
    pub fn get_with_key(&self, path: &str, key: &str) -> RequestBuilder {
        self.request(Method::GET, path).header("Medable-Client-Key", key)
    }

    /// A request to the platform API with the operator token.
    pub fn platform(&self, method: Method, path: &str) -> RequestBuilder {
        self.request(method, path).bearer_auth(OPERATOR_TOKEN)
    }
}

/// A local SMTP server process (Python's aiosmtpd) that stores every message in a
/// maildir, started per test.
pub struct SmtpSink {
    pub port: u16,
    child: std::process::Child,
    dir: tempfile::TempDir,
}

impl SmtpSink {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}"), "-c", "aiosmtpd.handlers.Mailbox"])
            .arg(dir.path().join("maildir"))
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("python3 -m aiosmtpd (scripts/test installs it)");
        for _ in 0..200 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return Self { port, child, dir };
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("the SMTP sink did not start");
    }

    /// Waits (bounded) for `n` messages and returns them raw.
    pub async fn messages(&self, n: usize) -> Vec<String> {
        let new = self.dir.path().join("maildir").join("new");
        for _ in 0..200 {
            let mut found: Vec<String> = std::fs::read_dir(&new)
                .map(|entries| entries.filter_map(|e| std::fs::read_to_string(e.ok()?.path()).ok()).collect())
                .unwrap_or_default();
            if found.len() >= n {
                found.sort();
                return found;
            }
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
        panic!("expected {n} mails at the SMTP sink");
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The token of the link in a mail (`…#token=…`; raw, quoted-printable, or from
/// the mail log).
pub fn token_in(mail: &str) -> String {
    let unfolded = mail.replace("=\r\n", "").replace("=\n", "").replace("=3D", "=");
    unfolded.split("#token=").nth(1).expect("a link with a token in the mail")[..64].to_owned()
}

/// The mails written to the dev mail log so far, oldest first.
pub fn logged_mails(app: &TestApp) -> Vec<Value> {
    let log = std::fs::read_to_string(app.config().data_dir.join("mail.log")).unwrap_or_default();
    log.lines().map(|line| serde_json::from_str(line).expect("json")).collect()
}

/// Waits until the dev mail log holds `n` mails (some are sent after the answer),
/// and returns them.
pub async fn wait_for_mails(app: &TestApp, n: usize) -> Vec<Value> {
    for _ in 0..400 {
        let mails = logged_mails(app);
        if mails.len() >= n {
            return mails;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    panic!("expected {n} mails in the mail log, found {}", logged_mails(app).len());
}

/// The last token written to the dev mail log.
pub fn last_logged_token(app: &TestApp) -> String {
    let mails = logged_mails(app);
    token_in(mails.last().expect("a mail")["body"].as_str().expect("body"))
}

/// Reads a response as (status, JSON body).
pub async fn json(res: reqwest::Response) -> (u16, Value) {
    let status = res.status().as_u16();
    let text = res.text().await.expect("body");
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON ({status}): {text}"));
    (status, body)
}

/// Asserts that a body is a fault with this status and code, and returns it.
pub fn assert_fault(status: u16, body: &Value, want_status: u16, want_code: &str) {
    assert_eq!(status, want_status, "status of {body}");
    assert_eq!(body["object"], "fault", "{body}");
    assert_eq!(body["code"], want_code, "{body}");
    assert_eq!(body["status"], want_status, "{body}");
}

/// Declares API tests that run on both backends. Each named `async fn(&TestApp)`
/// becomes `sqlite::name` and `postgres::name`.
#[macro_export]
macro_rules! api_tests {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite).await;
                    super::$name(&app).await;
                    app.finish().await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let app = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Postgres).await;
                    super::$name(&app).await;
                    app.finish().await;
                }
            )*
        }
    };
}
