//! What the benchmarks share.

use anyhow::bail;

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
