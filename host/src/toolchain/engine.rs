//! The Python of the embedded ClickHouse engine: `chdb-core` and its codecs
//! ([`moose_olap::embedded::ENGINE_REQUIREMENTS`]) in the environment at
//! [`moose_olap::embedded::default_python`], installed on first use when
//! `[clickhouse] python` and `[clickhouse] url` are both unset.

use moose_olap::embedded::{default_python, ENGINE_REQUIREMENTS};
use moose_olap::ClickHouseSection;

use super::{venv, ToolchainError};

/// Makes the embedded engine's default Python ready, when `section` runs the embedded
/// engine with it.
pub fn ensure(section: &ClickHouseSection) -> Result<(), ToolchainError> {
    if section.url.is_some() || section.python.is_some() {
        return Ok(());
    }
    let python = default_python();
    let Some(venv) = python.parent().and_then(|bin| bin.parent()) else {
        return Ok(());
    };
    venv::with_requirements(
        venv,
        &venv::requirements(ENGINE_REQUIREMENTS),
        &["--no-deps"],
        "the embedded ClickHouse engine",
    )?;
    Ok(())
}
