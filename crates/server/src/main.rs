//! The `orgbase` binary: a thin shim over [`orgbase_server::cli`].

#[tokio::main]
async fn main() -> std::process::ExitCode {
    orgbase_server::cli::run().await
}
