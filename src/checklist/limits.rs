//! Reading a checklist file, within size limits.
//!
//! Real release checklists have tens to a few hundred items. The limits are far above that
//! and are there so a wrong file (a generated dump, a log) is refused with a clear error
//! instead of slowing down the daemon: every release stores one record per item and
//! `GET /api/v1/releases/{id}` lists them all.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::Checklist;
use super::parse::parse_at_most;

/// Largest checklist file accepted by [`load`]: 16 MiB.
pub const MAX_BYTES: u64 = 16 * 1024 * 1024;

/// Most task-list items accepted by [`load`]: 200,000.
pub const MAX_ITEMS: usize = 200_000;

/// How to get under a limit, in every [`TooLarge`] message.
const HOW_TO_FIX: &str = "split it into smaller checklists (for example one per service, each with its own config) \
                          or turn reference lists into prose (lines without `[ ]`)";

/// A checklist file over a size limit.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TooLarge {
    /// The file is bigger than [`MAX_BYTES`].
    #[error(
        "checklist {} is {bytes} bytes ({}), more than the limit of {limit} bytes ({}); {HOW_TO_FIX}",
        path.display(), mib(*bytes), mib(*limit)
    )]
    Bytes { path: PathBuf, bytes: u64, limit: u64 },
    /// The file has more task-list items than [`MAX_ITEMS`].
    #[error("checklist {} has {items} task-list items, more than the limit of {limit}; {HOW_TO_FIX}", path.display())]
    Items { path: PathBuf, items: usize, limit: usize },
}

/// `bytes` in MiB, for people.
fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// Why [`load`] refused a checklist file.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// Missing, unreadable, not a regular file, or not UTF-8.
    #[error("cannot read checklist {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// Over [`MAX_BYTES`] or [`MAX_ITEMS`].
    #[error(transparent)]
    TooLarge(#[from] TooLarge),
}

/// Read and parse the checklist file at `path`, refusing files over [`MAX_BYTES`] (before
/// reading them) or with more than [`MAX_ITEMS`] task-list items (before assigning ids).
/// Devices, FIFOs and directories are refused without being opened, so a path like
/// `/dev/zero` cannot hang or exhaust the reader.
pub fn load(path: &Path) -> Result<Checklist, LoadError> {
    load_within(path, MAX_BYTES, MAX_ITEMS)
}

/// [`load`] with the limits as parameters (the tests use small ones too).
pub(super) fn load_within(path: &Path, max_bytes: u64, max_items: usize) -> Result<Checklist, LoadError> {
    let read_err = |source: std::io::Error| LoadError::Read { path: path.to_path_buf(), source };
    let too_big = |bytes: u64| TooLarge::Bytes { path: path.to_path_buf(), bytes, limit: max_bytes };
    let meta = std::fs::metadata(path).map_err(read_err)?;
    if !meta.is_file() {
        return Err(read_err(std::io::Error::other("not a regular file")));
    }
    if meta.len() > max_bytes {
        return Err(too_big(meta.len()).into());
    }
    // The file may grow after the check: read at most one byte more than the limit.
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    std::fs::File::open(path)
        .and_then(|f| f.take(max_bytes.saturating_add(1)).read_to_end(&mut bytes))
        .map_err(read_err)?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_big(bytes.len() as u64).into());
    }
    let source = String::from_utf8(bytes).map_err(|_| {
        read_err(std::io::Error::new(std::io::ErrorKind::InvalidData, "stream did not contain valid UTF-8"))
    })?;
    parse_at_most(&source, max_items)
        .map_err(|items| TooLarge::Items { path: path.to_path_buf(), items, limit: max_items }.into())
}
