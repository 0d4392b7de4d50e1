//! Files of an image as data ([`Entry`]) and the reproducible tar streams made of them:
//! entries sorted by path, missing parent directories added, every header with the same
//! fixed mtime and explicit owner and mode, so the same entries always give the same bytes.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use flate2::write::GzEncoder;
use flate2::Compression;
use sha2::{Digest, Sha256};

use super::ImageError;

/// What an [`Entry`] holds.
#[derive(Debug, Clone)]
pub(super) enum Content {
    Dir,
    /// A file on this machine, copied as it is when the image is written.
    File(PathBuf),
    Bytes(Vec<u8>),
}

/// One file or directory of an image.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    /// Path inside the image, without a leading `/`.
    pub path: String,
    pub mode: u32,
    /// Owner uid and gid.
    pub owner: u32,
    pub content: Content,
}

impl Entry {
    /// A directory owned by root.
    pub fn dir(path: &str, mode: u32) -> Self {
        Self::new(path, mode, Content::Dir)
    }

    /// A copy of the file at `source`, owned by root.
    pub fn file(path: &str, mode: u32, source: impl Into<PathBuf>) -> Self {
        Self::new(path, mode, Content::File(source.into()))
    }

    /// A file holding `bytes`, owned by root.
    pub fn bytes(path: &str, mode: u32, bytes: impl Into<Vec<u8>>) -> Self {
        Self::new(path, mode, Content::Bytes(bytes.into()))
    }

    /// The same entry owned by `id` (uid and gid).
    pub fn owned_by(self, id: u32) -> Self {
        Self { owner: id, ..self }
    }

    fn new(path: &str, mode: u32, content: Content) -> Self {
        Self {
            path: path
                .trim_start_matches('/')
                .trim_end_matches('/')
                .to_string(),
            mode,
            owner: 0,
            content,
        }
    }
}

/// `entries` sorted by path, with a root-owned `0755` directory for every missing parent.
/// Two entries for the same path are an error.
pub(super) fn normalized(entries: &[Entry]) -> Result<Vec<Entry>, ImageError> {
    let mut by_path: BTreeMap<String, Entry> = BTreeMap::new();
    for entry in entries {
        if by_path.insert(entry.path.clone(), entry.clone()).is_some() {
            return Err(ImageError::Duplicate {
                path: format!("/{}", entry.path),
            });
        }
    }
    let parents: Vec<String> = by_path
        .keys()
        .flat_map(|path| {
            let mut parents = Vec::new();
            let mut rest = path.as_str();
            while let Some((parent, _)) = rest.rsplit_once('/') {
                parents.push(parent.to_string());
                rest = parent;
            }
            parents
        })
        .collect();
    for parent in parents {
        by_path
            .entry(parent.clone())
            .or_insert_with(|| Entry::dir(&parent, 0o755));
    }
    Ok(by_path.into_values().collect())
}

/// Writes `entries` (already [`normalized`]) as a tar stream to `out` with every mtime
/// set to `mtime` (seconds since the epoch).
pub(super) fn write_tar<W: Write>(entries: &[Entry], mtime: u64, out: W) -> Result<W, ImageError> {
    let mut tar = tar::Builder::new(out);
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        header.set_mtime(mtime);
        header.set_uid(entry.owner.into());
        header.set_gid(entry.owner.into());
        header.set_mode(entry.mode);
        let appended = match &entry.content {
            Content::Dir => {
                header.set_entry_type(tar::EntryType::Directory);
                header.set_size(0);
                tar.append_data(&mut header, format!("{}/", entry.path), io::empty())
            }
            Content::Bytes(bytes) => {
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(bytes.len() as u64);
                tar.append_data(&mut header, &entry.path, bytes.as_slice())
            }
            Content::File(source) => {
                let file = File::open(source).map_err(|e| ImageError::io(source, e))?;
                let size = file
                    .metadata()
                    .map_err(|e| ImageError::io(source, e))?
                    .len();
                header.set_entry_type(tar::EntryType::Regular);
                header.set_size(size);
                tar.append_data(&mut header, &entry.path, file)
            }
        };
        appended.map_err(|e| ImageError::io(Path::new(&entry.path), e))?;
    }
    tar.into_inner()
        .map_err(|e| ImageError::io(Path::new("tar"), e))
}

/// A layer blob written to disk: gzip of the layer's tar.
#[derive(Debug)]
pub(super) struct LayerBlob {
    pub file: tempfile::NamedTempFile,
    /// Hex SHA-256 of the compressed blob (its digest).
    pub digest: String,
    /// Size of the compressed blob in bytes.
    pub size: u64,
    /// Hex SHA-256 of the uncompressed tar (the config's `diff_id`).
    pub diff_id: String,
    /// Size of the uncompressed tar in bytes.
    pub tar_size: u64,
}

/// Writes `entries` as a gzipped tar layer into a temporary file in `dir`.
pub(super) fn write_layer(
    entries: &[Entry],
    mtime: u64,
    dir: &Path,
) -> Result<LayerBlob, ImageError> {
    let entries = normalized(entries)?;
    let file = tempfile::NamedTempFile::new_in(dir).map_err(|e| ImageError::io(dir, e))?;
    let compressed = Hashing::new(file.reopen().map_err(|e| ImageError::io(file.path(), e))?);
    let plain = Hashing::new(GzEncoder::new(compressed, Compression::default()));
    let plain = write_tar(&entries, mtime, plain)?;
    let (gzip, diff_id, tar_size) = plain.finish();
    let compressed = gzip.finish().map_err(|e| ImageError::io(file.path(), e))?;
    let (mut out, digest, size) = compressed.finish();
    out.flush().map_err(|e| ImageError::io(file.path(), e))?;
    Ok(LayerBlob {
        file,
        digest,
        size,
        diff_id,
        tar_size,
    })
}

/// Hex SHA-256 of `bytes`.
pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A writer that passes bytes through and keeps their SHA-256 and count.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
    count: u64,
}

impl<W> Hashing<W> {
    fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            count: 0,
        }
    }

    /// The inner writer, the hex SHA-256 and the number of bytes written.
    fn finish(self) -> (W, String, u64) {
        (self.inner, hex::encode(self.hasher.finalize()), self.count)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let written = self.inner.write(buf)?;
        self.hasher.update(&buf[..written]);
        self.count += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Writes `entries` as files under `root` (the build context of the Dockerfile): files
/// are hard-linked from their source when possible, else copied; modes are kept,
/// owners are not (the Dockerfile sets them).
pub(super) fn materialize(entries: &[Entry], root: &Path) -> Result<(), ImageError> {
    for entry in normalized(entries)? {
        let target = root.join(&entry.path);
        match &entry.content {
            Content::Dir => {
                std::fs::create_dir_all(&target).map_err(|e| ImageError::io(&target, e))?
            }
            Content::Bytes(bytes) => {
                std::fs::write(&target, bytes).map_err(|e| ImageError::io(&target, e))?
            }
            Content::File(source) => {
                if std::fs::hard_link(source, &target).is_err() {
                    std::fs::copy(source, &target).map_err(|e| ImageError::io(&target, e))?;
                }
            }
        }
        if !matches!(entry.content, Content::File(_)) {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(entry.mode))
                .map_err(|e| ImageError::io(&target, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adds_parents_sorts_and_rejects_duplicates() {
        let entries = normalized(&[
            Entry::bytes("/usr/local/bin/moose", 0o755, b"x".to_vec()),
            Entry::dir("tmp", 0o1777),
        ])
        .expect("normalized");
        let paths: Vec<&str> = entries.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "tmp",
                "usr",
                "usr/local",
                "usr/local/bin",
                "usr/local/bin/moose"
            ]
        );
        assert!(normalized(&[Entry::dir("a", 0o755), Entry::dir("a/", 0o700)]).is_err());
    }

    #[test]
    fn the_same_entries_give_the_same_layer() {
        let dir = tempfile::tempdir().expect("temp dir");
        let entries = [
            Entry::bytes("app/b.json", 0o644, b"{}".to_vec()),
            Entry::bytes("app/a.json", 0o644, b"[]".to_vec()),
            Entry::dir("var/lib/moose", 0o750).owned_by(10001),
        ];
        let first = write_layer(&entries, 0, dir.path()).expect("layer");
        let mut reversed = entries.to_vec();
        reversed.reverse();
        let second = write_layer(&reversed, 0, dir.path()).expect("layer");
        assert_eq!(first.digest, second.digest);
        assert_eq!(first.diff_id, second.diff_id);
        assert_ne!(first.digest, first.diff_id);

        let file = File::open(first.file.path()).expect("blob");
        let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
        let listed: Vec<(String, u64, u32)> = archive
            .entries()
            .expect("entries")
            .map(|e| {
                let e = e.expect("entry");
                let header = e.header();
                (
                    e.path().expect("path").display().to_string(),
                    header.uid().expect("uid"),
                    header.mode().expect("mode"),
                )
            })
            .collect();
        assert_eq!(
            listed,
            [
                ("app/".to_string(), 0, 0o755),
                ("app/a.json".to_string(), 0, 0o644),
                ("app/b.json".to_string(), 0, 0o644),
                ("var/".to_string(), 0, 0o755),
                ("var/lib/".to_string(), 0, 0o755),
                ("var/lib/moose/".to_string(), 10001, 0o750),
            ]
        );
    }
}
