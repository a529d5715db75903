//! The `orgbase` binary: a thin shim over [`orgbase_server::cli`].

/// mimalloc instead of glibc's malloc: a request allocates and frees many small
/// buffers across threads, where glibc's arenas cost ~15% of a public read's CPU
/// (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    orgbase_server::cli::run().await
}
