//! A shim: everything lives in the library so tests can drive it.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    growth_analytics::cli::main().await
}
