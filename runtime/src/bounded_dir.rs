//! Machine-wide cache directories bounded by a size checked when a host starts: anything
//! in them can be rebuilt, so one that outgrew its bound is emptied rather than pruned.

use std::path::Path;

/// Creates `dir`, first emptying it when the files directly in it hold more than `limit`
/// bytes; `what` names its content in the log line that says so.
pub fn open(dir: &Path, limit: u64, what: &str) -> std::io::Result<()> {
    if directory_size(dir)? > limit {
        tracing::info!(dir = %dir.display(), "emptying the {what} cache, which outgrew {} MiB", limit >> 20);
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)
}

/// Total bytes of the files directly in `dir`; 0 when it does not exist.
fn directory_size(dir: &Path) -> std::io::Result<u64> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(error) => return Err(error),
    };
    let mut total = 0;
    for entry in entries {
        total += entry?.metadata()?.len();
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_directory_over_its_limit_is_emptied_and_one_within_it_kept() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("cache");
        open(&path, 10, "test").expect("created");
        std::fs::write(path.join("entry"), [0u8; 10]).expect("write");
        open(&path, 10, "test").expect("within the limit");
        assert!(path.join("entry").is_file());
        open(&path, 9, "test").expect("over the limit");
        assert!(path.is_dir() && !path.join("entry").exists());
    }
}
