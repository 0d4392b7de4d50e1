//! The system part of the image, built `FROM scratch`: the host binary, the shared
//! libraries and dynamic loader it needs (found with `ldd` on this machine and copied to
//! the same paths), a non-root user, `/tmp`, the host's writable state directory and the
//! CA certificates of this machine when it has them.

use std::path::{Path, PathBuf};
use std::process::Command;

use super::layer::Entry;
use super::{ImageError, BINARY, STATE_DIR, USER_ID};

/// Where this machine keeps its CA bundle (Debian, Ubuntu, Alpine, Fedora, RHEL).
const CA_BUNDLES: [&str; 2] = [
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
];

/// The path of the CA bundle inside the image.
pub(super) const CA_FILE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The system entries and whether a CA bundle is among them.
pub(super) struct System {
    pub entries: Vec<Entry>,
    pub has_ca_bundle: bool,
}

/// The system entries of an image running `binary`.
pub(super) fn system(binary: &Path) -> Result<System, ImageError> {
    let mut entries = vec![Entry::file(BINARY, 0o755, binary)];
    for library in shared_libraries(binary)? {
        let source = library
            .canonicalize()
            .map_err(|e| ImageError::io(&library, e))?;
        entries.push(Entry::file(&library.to_string_lossy(), 0o755, source));
    }
    entries.extend([
        Entry::bytes(
            "etc/passwd",
            0o644,
            format!(
                "root:x:0:0:root:/root:/sbin/nologin\n\
                 moose:x:{USER_ID}:{USER_ID}:moose:{STATE_DIR}:/sbin/nologin\n"
            ),
        ),
        Entry::bytes(
            "etc/group",
            0o644,
            format!("root:x:0:\nmoose:x:{USER_ID}:\n"),
        ),
        // Container runtimes mount their own; this one serves runs without a runtime.
        Entry::bytes(
            "etc/hosts",
            0o644,
            "127.0.0.1 localhost\n::1 localhost ip6-localhost ip6-loopback\n",
        ),
        Entry::bytes(
            "etc/nsswitch.conf",
            0o644,
            "passwd: files\ngroup: files\nhosts: files dns\n",
        ),
        Entry::dir("tmp", 0o1777),
        Entry::dir(STATE_DIR, 0o750).owned_by(USER_ID),
    ]);
    let bundle = CA_BUNDLES.iter().map(Path::new).find(|p| p.is_file());
    if let Some(bundle) = bundle {
        let source = bundle
            .canonicalize()
            .map_err(|e| ImageError::io(bundle, e))?;
        entries.push(Entry::file(CA_FILE, 0o644, source));
    }
    Ok(System {
        entries,
        has_ca_bundle: bundle.is_some(),
    })
}

/// The shared libraries and the dynamic loader `binary` loads, as `ldd` resolves them on
/// this machine; none for a static binary.
fn shared_libraries(binary: &Path) -> Result<Vec<PathBuf>, ImageError> {
    let output = Command::new("ldd")
        .arg(binary)
        .output()
        .map_err(|e| ImageError::io(Path::new("ldd"), e))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        if stdout.contains("not a dynamic executable")
            || stderr.contains("not a dynamic executable")
        {
            return Ok(vec![]);
        }
        return Err(ImageError::Ldd {
            binary: binary.to_path_buf(),
            message: stderr.trim().to_string(),
        });
    }
    parse_ldd(&stdout).map_err(|unresolved| ImageError::Ldd {
        binary: binary.to_path_buf(),
        message: unresolved.to_string(),
    })
}

/// A line of `ldd` output naming a library it could not find.
#[derive(Debug, thiserror::Error)]
#[error("unresolved library: {0}")]
struct Unresolved(String);

/// The absolute paths in `ldd` output; the first line naming a library it could not
/// find is the error.
fn parse_ldd(output: &str) -> Result<Vec<PathBuf>, Unresolved> {
    let mut libraries = Vec::new();
    for line in output.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let path = match line.split_once("=>") {
            Some((_, resolved)) => {
                let resolved = resolved.trim();
                if resolved.starts_with("not found") {
                    return Err(Unresolved(line.to_string()));
                }
                resolved.split_whitespace().next().unwrap_or_default()
            }
            None => line.split_whitespace().next().unwrap_or_default(),
        };
        // The vDSO has no file (`linux-vdso.so.1 (0x...)`).
        if path.starts_with('/') && !libraries.iter().any(|l: &PathBuf| l.as_os_str() == path) {
            libraries.push(PathBuf::from(path));
        }
    }
    Ok(libraries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_ldd_output() {
        let output = "\tlinux-vdso.so.1 (0x00007ffd)\n\
            \tlibz.so.1 => /lib/x86_64-linux-gnu/libz.so.1 (0x00007fbf)\n\
            \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007fbe)\n\
            \t/lib64/ld-linux-x86-64.so.2 (0x00007fbd)\n";
        assert_eq!(
            parse_ldd(output).expect("resolved"),
            [
                PathBuf::from("/lib/x86_64-linux-gnu/libz.so.1"),
                PathBuf::from("/lib/x86_64-linux-gnu/libc.so.6"),
                PathBuf::from("/lib64/ld-linux-x86-64.so.2"),
            ]
        );
        let missing = parse_ldd("\tlibfoo.so.1 => not found\n").expect_err("missing");
        assert!(missing.to_string().contains("libfoo"), "{missing}");
    }

    #[test]
    fn the_running_binary_has_its_loader_and_libc() {
        let exe = std::env::current_exe().expect("test binary");
        let libraries = shared_libraries(&exe).expect("ldd");
        assert!(
            libraries
                .iter()
                .any(|l| l.to_string_lossy().contains("ld-linux")),
            "{libraries:?}"
        );
        assert!(
            libraries
                .iter()
                .any(|l| l.to_string_lossy().contains("libc.so")),
            "{libraries:?}"
        );
    }
}
