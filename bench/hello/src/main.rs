//! The benchmark's ceiling: a bare axum server that answers `GET /{org}/v2` with a
//! fixed JSON body the size of orgbase's public org, and nothing else. Whatever
//! orgbase does beyond this (routing, middleware, the database) is the gap between
//! the two in `bench/run`'s W1.
//!
//! Usage: `orgbase-bench-hello [--bind 127.0.0.1:8090]`

use std::process::ExitCode;

use axum::Router;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

/// What orgbase answers for a public org read, byte for byte in shape.
const ORG: &str = concat!(
    r#"{"_id":"5516ee1b34d8d934281699e3","access":1,"code":"example","locale":"en_US","#,
    r#""maintenance":false,"name":"Example","object":"org","#,
    r#""schemasETag":"b7fa703927702d09ada85150f475d88c","state":"enabled"}"#
);

async fn public_org() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], ORG)
}

fn bind_address() -> Result<String, String> {
    let mut args = std::env::args().skip(1);
    let mut bind = String::from("127.0.0.1:8090");
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--bind" => bind = args.next().ok_or("--bind needs an address")?,
            other => match other.strip_prefix("--bind=") {
                Some(value) => bind = value.to_owned(),
                None => return Err(format!("unknown argument {other:?}; usage: orgbase-bench-hello [--bind ADDR]")),
            },
        }
    }
    Ok(bind)
}

async fn serve(bind: &str) -> std::io::Result<()> {
    let app = Router::new().route("/{org}/v2", get(public_org));
    let listener = tokio::net::TcpListener::bind(bind).await?;
    axum::serve(listener, app).await
}

#[tokio::main]
async fn main() -> ExitCode {
    let bind = match bind_address() {
        Ok(bind) => bind,
        Err(message) => {
            eprintln!("error: {message}");
            return ExitCode::from(2);
        }
    };
    match serve(&bind).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {bind}: {e}");
            ExitCode::FAILURE
        }
    }
}
