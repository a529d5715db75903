//! The `orgbase` binary's commands, run as a user runs them, on both backends: they
//! read the same config layers and the same data as `serve`.

use std::process::{Command, Output};

use serde_json::Value;

use crate::api_tests;
use crate::helpers::{Backend, TestApp};

fn orgbase(app: &TestApp, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orgbase"));
    cmd.env_clear().env("PATH", std::env::var("PATH").unwrap_or_default());
    cmd.env("ORGBASE_DATA_DIR", &app.config().data_dir);
    if app.backend == Backend::Postgres {
        cmd.env("ORGBASE_DATABASE_URL", &app.config().database_url.as_ref().unwrap().0);
    }
    cmd.args(args).output().expect("run orgbase")
}

fn ok_json(out: &Output) -> Value {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|_| panic!("stdout: {}", String::from_utf8_lossy(&out.stdout)))
}

api_tests!(cli_creates_an_org_and_an_app_that_the_server_serves, cli_refuses_invalid_input_with_a_message);

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
