//! The `orgbase` binary's commands, run as a user runs them, on both backends: they
//! read the same config layers and the same data as `serve`.

use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::api_tests;
use crate::helpers::{Backend, TestApp};

fn orgbase(app: &TestApp, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orgbase"));
    cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd.env("ORGBASE_DATA_DIR", &app.config().data_dir);
    if app.backend == Backend::Postgres {
        cmd.env("ORGBASE_DATABASE_URL", &app.config().database_url.as_ref().unwrap().0);
        cmd.env("ORGBASE_SECRET_KEY", crate::helpers::SECRET_KEY);
    }
    cmd.args(args).output().expect("run orgbase")
}

fn ok_json(out: &Output) -> Value {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("stdout: {}", String::from_utf8_lossy(&out.stdout)))
}

api_tests!(
    cli_creates_an_org_and_an_app_that_the_server_serves,
    cli_refuses_invalid_input_with_a_message,
    cli_bootstraps_a_first_admin_without_mail_and_imports_members,
    cli_lists_updates_rotates_disables_enables_and_deletes_apps_by_key,
    cli_rotates_the_key_that_seals_app_secrets,
);

fn orgbase_stdin(app: &TestApp, args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orgbase"));
    cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd.env("ORGBASE_DATA_DIR", &app.config().data_dir);
    if app.backend == Backend::Postgres {
        cmd.env("ORGBASE_DATABASE_URL", &app.config().database_url.as_ref().unwrap().0);
        cmd.env("ORGBASE_SECRET_KEY", crate::helpers::SECRET_KEY);
    }
    let mut child = cmd
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

async fn cli_bootstraps_a_first_admin_without_mail_and_imports_members(app: &TestApp) {
    ok_json(&orgbase(app, &["org", "create", "--code", "example", "--name", "Example", "--json"]));
    let created = ok_json(&orgbase(app, &["app", "create", "--org", "example", "--name", "web", "--json"]));
    let key = created["key"].as_str().unwrap().to_owned();
    let account = ok_json(&orgbase_stdin(
        app,
        &["account", "create", "--email", "Boss@x.test", "--name", "Big Boss", "--password-stdin", "--json"],
        "boss password 123\n",
    ));
    assert_eq!(account["email"], "boss@x.test");
    assert!(account.get("password").is_none() && !account.to_string().contains("argon2"));
    let member = ok_json(&orgbase(
        app,
        &["member", "add", "--org", "example", "--email", "boss@x.test", "--roles", "administrator", "--json"],
    ));
    assert_eq!(member["roles"][0], "000000000000000000000004");
    let token = app.login("example", &key, "boss@x.test", "boss password 123").await;
    let (_, me) = crate::helpers::json(
        app.api(reqwest::Method::GET, "/example/v2/accounts/me", &key, Some(&token)).send().await.unwrap(),
    )
    .await;
    assert_eq!(me["access"], 7);
    let csv = app.config().data_dir.join("members.csv");
    std::fs::write(&csv, "a@x.test,Ann,Lee,provider\nb@x.test,Bob,,support;provider\nboss@x.test,Big,Boss,\n").unwrap();
    let imported =
        ok_json(&orgbase(app, &["member", "import", "--org", "example", "--file", csv.to_str().unwrap(), "--json"]));
    assert_eq!(
        imported["data"],
        serde_json::json!({"rows": 3, "added": 2, "invited": []}),
        "the existing member is skipped"
    );
    std::fs::write(&csv, "not-an-email,X,Y,provider\n").unwrap();
    let out = orgbase(app, &["member", "import", "--org", "example", "--file", csv.to_str().unwrap()]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("line 1"));
}

async fn cli_creates_an_org_and_an_app_that_the_server_serves(app: &TestApp) {
    let org = ok_json(&orgbase(
        app,
        &["org", "create", "--code", "example", "--name", "Example", "--locale", "en_US", "--json"],
    ));
    assert_eq!(org["code"], "example");
    let created = ok_json(&orgbase(app, &["app", "create", "--org", "example", "--name", "web", "--json"]));
    let key = created["key"].as_str().unwrap();
    assert_eq!(key.len(), 22);
    assert_eq!(created["secret"].as_str().unwrap().len(), 64);
    let list = ok_json(&orgbase(app, &["org", "list", "--json"]));
    assert_eq!(list["data"][0]["code"], "example");
    assert!(list["data"][0]["apps"][0].get("secret").is_none(), "secrets are shown only at creation");
    let res = app.get_with_key("/example/v2", key).send().await.unwrap();
    assert_eq!(res.status(), 200);
    let migrate = orgbase(app, &["migrate"]);
    assert!(migrate.status.success());
}

async fn cli_refuses_invalid_input_with_a_message(app: &TestApp) {
    let out = orgbase(app, &["org", "create", "--code", "Bad!", "--name", "X"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("code"));
    let out = orgbase(app, &["app", "create", "--org", "missing", "--name", "web"]);
    assert!(!out.status.success());
}

async fn cli_lists_updates_rotates_disables_enables_and_deletes_apps_by_key(app: &TestApp) {
    ok_json(&orgbase(app, &["org", "create", "--code", "example", "--name", "Example", "--json"]));
    let create = ["app", "create", "--org", "example", "--name", "web", "--no-csrf", "--origin", "https://a.example"];
    let created = ok_json(&orgbase(app, &[&create[..], &["--json"]].concat()));
    let key = created["key"].as_str().unwrap().to_owned();
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert_eq!((&created["csrf"], &created["cors"]["origins"][0]), (&json!(false), &json!("https://a.example")));
    let target = ["--org", "example", "--app", key.as_str(), "--json"];
    let run = |args: &[&str]| orgbase(app, &[args, &target[..]].concat());

    let list = ok_json(&orgbase(app, &["app", "list", "--org", "example", "--json"]));
    assert_eq!((&list["object"], &list["data"][0]["key"]), (&json!("list"), &json!(key)));
    assert!(!list.to_string().contains(&secret));
    let updated =
        ok_json(&run(&["app", "update", "--name", "renamed", "--csrf", "true", "--act-as", "none", "--no-origins"]));
    assert_eq!((&updated["name"], &updated["csrf"], &updated["actAs"]), (&json!("renamed"), &json!(true), &json!([])));
    assert_eq!(updated["cors"]["origins"], json!([]));
    assert!(updated.get("secret").is_none());

    assert_eq!(ok_json(&run(&["app", "disable"]))["enabled"], false);
    assert_eq!(status_soon(app, &key, 400).await, 400);
    assert_eq!(ok_json(&run(&["app", "enable"]))["enabled"], true);
    assert_eq!(status_soon(app, &key, 200).await, 200);

    let rotated = ok_json(&run(&["app", "rotate-secret"]));
    let new = rotated["secret"].as_str().unwrap();
    assert!(new.len() == 64 && new != secret && rotated["previousSecretExpires"].is_string(), "{rotated}");

    let out = run(&["app", "update", "--origin", "https://a.example/path"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("cors.origins"));
    let out = orgbase(app, &["app", "disable", "--org", "example", "--app", "nope"]);
    assert!(!out.status.success() && String::from_utf8_lossy(&out.stderr).contains("App not found"));

    assert_eq!(ok_json(&run(&["app", "delete"]))["data"], true);
    assert_eq!(status_soon(app, &key, 400).await, 400);
    let (status, fault) = crate::helpers::json(app.get_with_key("/example/v2", &key).send().await.unwrap()).await;
    crate::helpers::assert_fault(status, &fault, 400, "kInvalidClient");
    let list = ok_json(&orgbase(app, &["app", "list", "--org", "example", "--json"]));
    assert_eq!(list["data"], json!([]));
}

/// The status of the public read with `key` once it is `want`, or after two
/// seconds: the server hears of another process's commit within a quarter second
/// (SQLite's watcher) or at its notification (PostgreSQL).
async fn status_soon(app: &TestApp, key: &str, want: u16) -> u16 {
    let mut status = 0;
    for _ in 0..40 {
        status = app.get_with_key("/example/v2", key).send().await.unwrap().status().as_u16();
        if status == want {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    status
}

/// `orgbase` with `ORGBASE_SECRET_KEY` set to `key` (on either database).
fn orgbase_keyed(app: &TestApp, key: &str, args: &[&str], stdin: &str) -> Output {
    use std::io::Write;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orgbase"));
    cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd.env("ORGBASE_DATA_DIR", &app.config().data_dir).env("ORGBASE_SECRET_KEY", key);
    if app.backend == Backend::Postgres {
        cmd.env("ORGBASE_DATABASE_URL", &app.config().database_url.as_ref().unwrap().0);
    }
    let mut child = cmd
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

async fn cli_rotates_the_key_that_seals_app_secrets(app: &TestApp) {
    let (old, new) = ("11".repeat(32), "22".repeat(32));
    let sealed = ["org", "create", "--code", "example", "--name", "Example", "--json"];
    ok_json(&orgbase_keyed(app, &old, &sealed, ""));
    let created =
        ok_json(&orgbase_keyed(app, &old, &["app", "create", "--org", "example", "--name", "w", "--json"], ""));
    let secret = created["secret"].as_str().unwrap().to_owned();
    let list = ["app", "list", "--org", "example", "--json"];
    let rotate = ["secrets", "rotate-key", "--new-key-stdin", "--json"];
    // A bad new key changes nothing.
    assert!(!orgbase_keyed(app, &old, &rotate, "not a key\n").status.success());
    ok_json(&orgbase_keyed(app, &old, &list, ""));
    let rotated = ok_json(&orgbase_keyed(app, &old, &rotate, &format!("{new}\n")));
    assert_eq!(rotated["data"]["apps"], 1);
    assert!(!rotated.to_string().contains(&new) && !rotated.to_string().contains(&secret));
    // Now only the new key opens the secrets.
    ok_json(&orgbase_keyed(app, &new, &list, ""));
    let refused = orgbase_keyed(app, &old, &list, "");
    assert!(!refused.status.success(), "the old key still opens the secrets");
    assert!(!String::from_utf8_lossy(&refused.stderr).contains(&secret));
    // A second run with the same keys changes nothing it should not.
    ok_json(&orgbase_keyed(app, &old, &rotate, &format!("{new}\n")));
    ok_json(&orgbase_keyed(app, &new, &list, ""));
}
