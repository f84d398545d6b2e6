//! Pinned files: opened once, hashed from that open file, and kept open for the run.
//!
//! A policy may pin files (`[agent] pin = [...]`), typically the agent's program. Checking a
//! path and later executing the same path leaves a gap in which the file can be swapped.
//! Here each pinned file is opened once; its bytes are read through that descriptor, hashed,
//! and kept. The open descriptor ([`PinnedFile::file`]) names the very inode that was
//! hashed, so `execveat(fd, "", …, AT_EMPTY_PATH)` / `fexecve` runs that file even if the
//! path is replaced by a rename. Writing the inode in place is the remaining gap;
//! [`PinnedFile::sealed_copy`] closes it with a sealed in-memory copy of exactly the hashed
//! bytes, which no one can change. The launcher chooses which to execute; this module never
//! runs anything.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use nix::fcntl::{FcntlArg, SealFlag, fcntl};
use nix::sys::memfd::{MFdFlags, memfd_create};

use super::RegistryError;
use super::checksum::Checksum;

/// The largest file that can be pinned (its bytes are held in memory).
pub const MAX_PIN_SIZE: u64 = 512 << 20;

/// One pinned file, open, with the bytes that were hashed.
#[derive(Debug)]
pub struct PinnedFile {
    /// The path as the policy names it (absolute).
    pub path: PathBuf,
    /// SHA-256 of the bytes alone (for diffs; the consent checksum also covers the path).
    pub digest: Checksum,
    file: File,
    bytes: Vec<u8>,
}

impl PinnedFile {
    /// Open `path` read-only and close-on-exec ([`crate::isolation::resolve::open_file`]:
    /// links only root could have placed, a regular file only), and read and keep its bytes
    /// from that fd.
    ///
    /// # Errors
    /// [`RegistryError::Pin`] when the file cannot be opened or read, is not a regular file,
    /// or is larger than [`MAX_PIN_SIZE`].
    pub fn open(path: &Path) -> Result<PinnedFile, RegistryError> {
        let err = |reason: String| RegistryError::Pin {
            path: path.to_path_buf(),
            reason,
        };
        // Through the resolver: no planted link followed, and nothing but a regular file
        // ever opened (a FIFO swapped in would block here forever).
        let file = crate::isolation::resolve::open_file(path)
            .map_err(|e| err(format!("cannot open: {e}")))?;
        // Checked on the open descriptor, not the path: this is the file that gets hashed.
        let meta = file
            .metadata()
            .map_err(|e| err(format!("cannot stat: {e}")))?;
        if !meta.is_file() {
            return Err(err("not a regular file".into()));
        }
        if meta.len() > MAX_PIN_SIZE {
            return Err(err(format!(
                "{} bytes is more than the {MAX_PIN_SIZE} a pinned file may have",
                meta.len()
            )));
        }
        let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
        (&file)
            .take(MAX_PIN_SIZE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| err(format!("cannot read: {e}")))?;
        if bytes.len() as u64 > MAX_PIN_SIZE {
            return Err(err("grew past the pinned-file size limit while read".into()));
        }
        Ok(PinnedFile {
            path: path.to_path_buf(),
            digest: Checksum::of_bytes(&bytes),
            file,
            bytes,
        })
    }

    /// The open file that was hashed, for `execveat(fd, "", argv, envp, AT_EMPTY_PATH)`.
    #[must_use]
    pub fn file(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }

    /// Give up the open file (to hand it to the launcher).
    #[must_use]
    pub fn into_file(self) -> OwnedFd {
        self.file.into()
    }

    /// The exact bytes that were hashed.
    #[must_use]
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Whether the open file still holds the hashed bytes (it could have been written in
    /// place since it was read). Reads through the same descriptor with `pread`.
    ///
    /// # Errors
    /// [`RegistryError::Pin`] when the file cannot be read.
    pub fn is_unchanged(&self) -> Result<bool, RegistryError> {
        let len = self
            .file
            .metadata()
            .map_err(|e| RegistryError::Pin {
                path: self.path.clone(),
                reason: format!("cannot stat: {e}"),
            })?
            .len();
        if len != self.bytes.len() as u64 {
            return Ok(false);
        }
        let mut now = vec![0u8; self.bytes.len()];
        self.file
            .read_exact_at(&mut now, 0)
            .map_err(|e| RegistryError::Pin {
                path: self.path.clone(),
                reason: format!("cannot read: {e}"),
            })?;
        Ok(now == self.bytes)
    }

    /// A sealed in-memory file (`memfd_create` + `F_SEAL_WRITE|SHRINK|GROW|SEAL`) holding
    /// exactly the hashed bytes, close-on-exec. Nothing can change it afterwards, so
    /// executing it (`fexecve`) runs what the human consented to, byte for byte.
    ///
    /// # Errors
    /// [`RegistryError::Pin`] when the kernel refuses the memfd or the seals.
    pub fn sealed_copy(&self) -> Result<OwnedFd, RegistryError> {
        let err = |what: &str, e: &dyn std::fmt::Display| RegistryError::Pin {
            path: self.path.clone(),
            reason: format!("cannot make a sealed copy ({what}): {e}"),
        };
        let fd = memfd_create(
            c"mycelium-pin",
            MFdFlags::MFD_CLOEXEC | MFdFlags::MFD_ALLOW_SEALING,
        )
        .map_err(|e| err("memfd_create", &e))?;
        let mut f = File::from(fd);
        f.write_all(&self.bytes).map_err(|e| err("write", &e))?;
        fcntl(
            &f,
            FcntlArg::F_ADD_SEALS(
                SealFlag::F_SEAL_WRITE
                    | SealFlag::F_SEAL_SHRINK
                    | SealFlag::F_SEAL_GROW
                    | SealFlag::F_SEAL_SEAL,
            ),
        )
        .map_err(|e| err("F_ADD_SEALS", &e))?;
        Ok(f.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swap_after_open_changes_nothing_hashed() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("agent.py");
        std::fs::write(&p, b"print('consented')\n").unwrap();
        let pin = PinnedFile::open(&p).unwrap();
        // Replace the path with another file, as an attacker racing the check would.
        let other = t.path().join("evil.py");
        std::fs::write(&other, b"print('swapped')\n").unwrap();
        std::fs::rename(&other, &p).unwrap();
        // The descriptor's offset is at the end (it was read to hash it); read from 0.
        let f = File::from(pin.file().try_clone_to_owned().unwrap());
        let mut via_fd = vec![0u8; 64];
        let n = f.read_at(&mut via_fd, 0).unwrap();
        assert_eq!(&via_fd[..n], b"print('consented')\n");
        assert!(pin.is_unchanged().unwrap());
    }

    #[test]
    fn in_place_write_is_detected_and_sealed_copy_is_immutable() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("agent.sh");
        std::fs::write(&p, b"echo ok\n").unwrap();
        let pin = PinnedFile::open(&p).unwrap();
        let sealed = pin.sealed_copy().unwrap();
        std::fs::write(&p, b"echo no\n").unwrap();
        assert!(!pin.is_unchanged().unwrap());
        let mut f = File::from(sealed);
        assert!(
            f.write_all(b"x").is_err(),
            "a sealed copy must refuse writes"
        );
        let mut all = vec![0u8; 8];
        f.read_exact_at(&mut all, 0).unwrap();
        assert_eq!(all, b"echo ok\n");
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("agent.sh");
        nix::unistd::mkfifo(&p, nix::sys::stat::Mode::from_bits_truncate(0o644)).unwrap();
        let e = PinnedFile::open(&p).unwrap_err().to_string();
        assert!(e.contains("is a FIFO, not a regular file"), "{e}");
    }

    #[test]
    fn directories_are_refused() {
        let t = tempfile::tempdir().unwrap();
        assert!(PinnedFile::open(t.path()).is_err());
    }
}
