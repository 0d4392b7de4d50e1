//! What the benchmarks share.

use anyhow::bail;
use axum::body::Bytes;
use axum::routing::post;

/// Builds the release `moose` and points the harness at it (unless `MOOSE_BIN` is set).
pub fn release_moose() -> anyhow::Result<()> {
    if std::env::var_os("MOOSE_BIN").is_some() {
        return Ok(());
    }
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = std::process::Command::new(cargo)
        .args(["build", "--release", "-p", "moose-host"])
        .current_dir(moose_tests::repo_root())
        .status()?;
    if !status.success() {
        bail!("building the release moose failed");
    }
    // Set before any thread starts.
    std::env::set_var(
        "MOOSE_BIN",
        moose_tests::repo_root().join("target/release/moose"),
    );
    Ok(())
}

/// Starts an HTTP server that reads each body posted to `/sink` and counts its lines: the
/// floor of HTTP alone. Returns its `http://127.0.0.1:PORT`.
pub fn start_sink() -> anyhow::Result<String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    listener.set_nonblocking(true)?;
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build();
        if let Ok(runtime) = runtime {
            runtime.block_on(async move {
                let app = axum::Router::new().route(
                    "/sink",
                    post(|body: Bytes| async move {
                        let lines = body.split(|b| *b == b'\n').count();
                        format!("{{\"accepted\":{lines}}}")
                    }),
                );
                if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                    let _ = axum::serve(listener, app).await;
                }
            });
        }
    });
    Ok(format!("http://{addr}"))
}
