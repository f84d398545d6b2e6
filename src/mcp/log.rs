//! The server's log: one line per event on standard error (standard output carries only the
//! protocol) and, with `--log-file`, appended to that file as well.
//!
//! Lines name tools, agents, workflow ids and error codes, never a task, a context or
//! anything an agent printed.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Where log lines go. Clones share the file.
#[derive(Debug, Clone, Default)]
pub struct Log {
    file: Option<Arc<Mutex<std::fs::File>>>,
}

impl Log {
    /// Standard error only.
    #[must_use]
    pub fn stderr() -> Log {
        Log { file: None }
    }

    /// Standard error and `path`, opened for appending (created with mode 0600).
    ///
    /// # Errors
    /// When the file cannot be opened.
    pub fn with_file(path: &Path) -> std::io::Result<Log> {
        use std::os::unix::fs::OpenOptionsExt;
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(path)?;
        Ok(Log {
            file: Some(Arc::new(Mutex::new(file))),
        })
    }

    /// Write one line, stamped with the time.
    pub fn line(&self, text: std::fmt::Arguments<'_>) {
        let line = format!(
            "{} mycelium serve: {text}\n",
            jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        );
        let _ = std::io::stderr().write_all(line.as_bytes());
        if let Some(f) = &self.file {
            let mut f = f.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let _ = f.write_all(line.as_bytes());
        }
    }
}
