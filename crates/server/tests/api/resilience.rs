//! Faults the server must survive: a full disk under SQLite, a PostgreSQL server
//! that goes away, a log that cannot be written, slow clients, and bodies announced
//! over the limit.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use orgbase_domain::roles::ADMINISTRATOR;
use reqwest::Method;
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::api_tests;
use crate::helpers::{Backend, TestApp, assert_fault, json};

api_tests!(a_content_length_over_the_limit_is_refused_before_the_body_is_read);

/// A tmpfs mounted for one test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    /// Mounts a tmpfs of `size` (`mount -o size=`). Fails the test loudly when
    /// mounting is not permitted: this test needs root (as in CI).
    fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().unwrap().keep();
        let out = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(&dir)
            .output()
            .expect("run mount");
        assert!(
            out.status.success(),
            "mounting a tmpfs failed (this test needs root, as in CI): {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self(dir)
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Fills the filesystem of `dir` with one file, until it is refused.
fn fill(dir: &Path) -> PathBuf {
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    loop {
        if file.write_all(&chunk).is_err() {
            break;
        }
    }
    let small = [0u8; 512];
    while file.write_all(&small).is_ok() {}
    let _ = file.sync_all();
    path
}

async fn push(app: &TestApp, key: &str, token: &str, org: orgbase_domain::Id, value: &str) -> reqwest::Response {
    let body = json!({"op": "push", "path": "configuration.email.locationBypass", "value": value});
    app.api(Method::PATCH, &format!("/example/v2/orgs/{org}"), key, Some(token)).json(&body).send().await.unwrap()
}

async fn post(app: &TestApp, key: &str, token: &str, org: orgbase_domain::Id, body: &str) -> reqwest::Response {
    app.api(Method::POST, &format!("/example/v2/orgs/{org}/posts"), key, Some(token))
        .json(&json!({"body": body}))
        .send()
        .await
        .unwrap()
}

/// With the data dir's filesystem full, writes (group-committed PATCHes and
/// direct inserts) answer 503 `kStorageFull` with `Retry-After: 30` and `/readyz`
/// says not ready; once space is freed, writes work again without a restart, and
/// every write that was answered 200 is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_full_disk_is_a_503_and_writes_recover_without_a_restart() {
    let tmpfs = Tmpfs::mount("4m");
    let data_dir = tmpfs.0.clone();
    let app = TestApp::spawn_configured(Backend::Sqlite, |c| c.data_dir = data_dir).await;
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    let (mut pushed, mut posted) = (Vec::new(), Vec::new());
    let res = push(&app, &key.key, &admin, org.id, "before@x.test").await;
    assert_eq!(res.status(), 200);
    pushed.push("before@x.test".to_owned());

    let filler = fill(&tmpfs.0);
    let mut full = (false, false);
    for i in 0..40 {
        let value = format!("full{i}@x.test");
        let res = push(&app, &key.key, &admin, org.id, &value).await;
        match res.status().as_u16() {
            200 => pushed.push(value),
            503 => {
                assert_eq!(res.headers()["retry-after"], "30");
                let (status, body) = json(res).await;
                assert_fault(status, &body, 503, "kStorageFull");
                full.0 = true;
            }
            other => panic!("a PATCH on a full disk answered {other}: {}", res.text().await.unwrap()),
        }
        let res = post(&app, &key.key, &admin, org.id, &format!("post {i} {}", "x".repeat(2000))).await;
        match res.status().as_u16() {
            200 => posted.push(json(res).await.1["_id"].as_str().unwrap().to_owned()),
            503 => {
                assert_eq!(res.headers()["retry-after"], "30");
                let (status, body) = json(res).await;
                assert_fault(status, &body, 503, "kStorageFull");
                full.1 = true;
            }
            other => panic!("a post on a full disk answered {other}: {}", res.text().await.unwrap()),
        }
        if full == (true, true) {
            break;
        }
    }
    assert_eq!(full, (true, true), "both kinds of write met the full disk");
    let (status, body) = json(app.request(Method::GET, "/readyz").send().await.unwrap()).await;
    assert_fault(status, &body, 503, "kUnavailable");

    std::fs::remove_file(&filler).unwrap();
    let res = push(&app, &key.key, &admin, org.id, "after@x.test").await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    pushed.push("after@x.test".to_owned());
    let res = post(&app, &key.key, &admin, org.id, "after").await;
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    posted.push(json(res).await.1["_id"].as_str().unwrap().to_owned());
    let res = app.request(Method::GET, "/readyz").send().await.unwrap();
    assert_eq!(res.status(), 200);

    let stored = app.state.store.org_by_id(org.id).await.unwrap().unwrap();
    let bypass = &stored.props.configuration.email.location_bypass;
    for value in &pushed {
        assert!(bypass.contains(value), "{value} was answered 200 but is not stored: {bypass:?}");
    }
    let (status, list) = json(
        app.api(Method::GET, &format!("/example/v2/orgs/{}/posts?limit=100", org.id), &key.key, Some(&admin))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{list}");
    let listed: Vec<&str> = list["data"].as_array().unwrap().iter().map(|p| p["_id"].as_str().unwrap()).collect();
    for id in &posted {
        assert!(listed.contains(&id.as_str()), "post {id} was answered 200 but is not stored");
    }
    app.finish().await;
    drop(tmpfs);
}

/// A TCP proxy to PostgreSQL that the test can cut: every connection through it
/// is closed, and new ones are refused, as when the database server goes away.
struct Proxy {
    port: u16,
    tasks: Arc<Mutex<Vec<tokio::task::JoinHandle<()>>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let tasks = Arc::new(Mutex::new(Vec::new()));
        let held = Arc::clone(&tasks);
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                held.lock().unwrap().push(task);
            }
        });
        tasks.lock().unwrap().push(accept);
        Self { port, tasks }
    }

    fn cut(&self) {
        for task in self.tasks.lock().unwrap().drain(..) {
            task.abort();
        }
    }
}

/// Writes while PostgreSQL cannot be reached answer 503 `kUnavailable` with
/// `Retry-After`, and `/readyz` says not ready.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_an_unreachable_database_is_a_503_with_retry_after() {
    let base = crate::helpers::postgres_base_url();
    let url = reqwest::Url::parse(&base).unwrap();
    let upstream = format!("{}:{}", url.host_str().unwrap(), url.port().unwrap_or(5432));
    let proxy = Proxy::start(upstream.clone()).await;
    let port = proxy.port;
    let app = TestApp::spawn_configured(Backend::Postgres, |c| {
        let direct = c.database_url.take().unwrap().0;
        c.database_url = Some(orgbase_server::config::Secret(direct.replace(&upstream, &format!("127.0.0.1:{port}"))));
    })
    .await;
    let (org, key) = app.seed_org("example", "Example").await;
    let admin = app.member_token(&org, &key, "admin@x.test", &[ADMINISTRATOR]).await;
    let res = post(&app, &key.key, &admin, org.id, "before").await;
    assert_eq!(res.status(), 200);

    proxy.cut();
    let started = Instant::now();
    let res = post(&app, &key.key, &admin, org.id, "while away").await;
    assert!(res.headers().contains_key("retry-after"), "{:?}", res.headers());
    let (status, body) = json(res).await;
    assert_fault(status, &body, 503, "kUnavailable");
    assert!(started.elapsed() < Duration::from_secs(20), "answered in {:?}", started.elapsed());
    let res = push(&app, &key.key, &admin, org.id, "away@x.test").await;
    assert!(res.headers().contains_key("retry-after"));
    let (status, body) = json(res).await;
    assert_fault(status, &body, 503, "kUnavailable");
    let (status, body) = json(app.request(Method::GET, "/readyz").send().await.unwrap()).await;
    assert_fault(status, &body, 503, "kUnavailable");
    app.finish().await;
}

/// A free port on 127.0.0.1.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The real binary with its stdout and stderr on a full device (`/dev/full`,
/// every write fails with ENOSPC), logging at TRACE: each of 200 requests is
/// answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_log_that_cannot_be_written_costs_no_request_its_answer() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let dev_full = || std::fs::OpenOptions::new().write(true).open("/dev/full").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_orgbase"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ORGBASE_DATA_DIR", dir.path())
        .env("RUST_LOG", "trace")
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .stdin(Stdio::null())
        .stdout(dev_full())
        .stderr(dev_full())
        .spawn()
        .unwrap();
    let client = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(child.try_wait().unwrap().is_none(), "orgbase exited at start");
        assert!(Instant::now() < deadline, "orgbase did not start");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut answered = 0;
    for chunk in 0..10 {
        let requests = (0..20).map(|i| {
            let path = match i % 3 {
                0 => "/healthz".to_owned(),
                1 => format!("/nope/{chunk}/{i}"),
                _ => "/example/v2/accounts/me".to_owned(),
            };
            client.get(format!("{base}{path}")).send()
        });
        for res in futures::future::join_all(requests).await {
            if res.is_ok() {
                answered += 1;
            }
        }
    }
    assert!(child.try_wait().unwrap().is_none(), "orgbase died");
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(answered, 200, "requests answered with the log on a full device");
}

/// A connection that sent `partial` and then nothing: whether the server closed it
/// within `within`.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut buf = [0u8; 1024];
    matches!(tokio::time::timeout(within, stream.read(&mut buf)).await, Ok(Ok(0) | Err(_)))
}

async fn slow_client(base: &str, partial: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(base.trim_start_matches("http://")).await.unwrap();
    stream.write_all(partial).await.unwrap();
    stream
}

/// Clients that send half their headers, or nothing, or go quiet after a first
/// request, are closed after the configured timeouts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_slow_and_idle_clients_are_closed() {
    let app = TestApp::spawn_configured(Backend::Sqlite, |c| {
        c.header_read_timeout = 1;
        c.idle_timeout = 2;
    })
    .await;
    let mut half = slow_client(&app.base, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").await;
    let mut silent = slow_client(&app.base, b"").await;
    let mut kept = slow_client(&app.base, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let mut buf = vec![0u8; 4096];
    let n = kept.read(&mut buf).await.unwrap();
    assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{}", String::from_utf8_lossy(&buf[..n]));
    let started = Instant::now();
    assert!(closed_within(&mut half, Duration::from_secs(5)).await, "half headers: still open");
    assert!(started.elapsed() >= Duration::from_millis(900), "closed before the timeout");
    assert!(closed_within(&mut kept, Duration::from_secs(5)).await, "idle kept-alive connection: still open");
    assert!(closed_within(&mut silent, Duration::from_secs(5)).await, "silent connection: still open");
    app.finish().await;
}

/// With the connection cap reached by slow clients, a new client waits (it is
/// not served) until they are closed, then is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_at_the_connection_cap_new_clients_wait_and_the_server_recovers() {
    let app = TestApp::spawn_configured(Backend::Sqlite, |c| {
        c.header_read_timeout = 2;
        c.max_connections = 4;
    })
    .await;
    let mut slow = Vec::new();
    for _ in 0..4 {
        slow.push(slow_client(&app.base, b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await);
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let started = Instant::now();
    let waiting = tokio::spawn({
        let url = format!("{}/healthz", app.base);
        async move { reqwest::Client::new().get(url).send().await.map(|r| r.status().as_u16()) }
    });
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert!(!waiting.is_finished(), "served beyond the cap");
    let status = tokio::time::timeout(Duration::from_secs(10), waiting).await.unwrap().unwrap().unwrap();
    assert_eq!(status, 200);
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(1500), "served after {waited:?}, before the slow clients were closed");
    for mut stream in slow {
        assert!(closed_within(&mut stream, Duration::from_secs(1)).await);
    }
    let res = app.request(Method::GET, "/healthz").send().await.unwrap();
    assert_eq!(res.status(), 200);
    app.finish().await;
}

/// A request announcing a body over the limit is answered 413 at once, without
/// the server waiting for the body.
async fn a_content_length_over_the_limit_is_refused_before_the_body_is_read(app: &TestApp) {
    let mut stream = slow_client(
        &app.base,
        format!(
            "POST /platform/v1/orgs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
             Authorization: Bearer {}\r\nContent-Length: 8388608\r\n\r\n{{",
            crate::helpers::OPERATOR_TOKEN
        )
        .as_bytes(),
    )
    .await;
    let mut buf = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(3), stream.read(&mut buf))
        .await
        .expect("answered before the body came")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("kRequestTooLarge"), "{answer}");
}

/// A media signing key shorter than 32 bytes is refused at start.
#[test]
fn a_short_media_signing_key_is_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_orgbase"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("ORGBASE_DATA_DIR", dir.path())
        .env("ORGBASE_MEDIA_SIGNING_KEY", "short-key-of-31-bytes-012345678")
        .args(["serve", "--bind", &format!("127.0.0.1:{}", free_port())])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("media_signing_key") && stderr.contains("32"), "{stderr}");
}
