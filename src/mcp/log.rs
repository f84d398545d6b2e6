//! The server's log: one line per event on standard error (standard output carries only the
//! protocol) and, with `--log-file`, appended to that file as well.
//!
//! Lines name tools, agents, workflow ids and error codes, never a task, a context or
//! anything an agent printed.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};

/// Where log lines go. Clones share the file.
///
/// ```
/// let log = mycelium::mcp::Log::stderr();
/// log.line(format_args!("tool {}", "a\nforged line")); // written as `tool a\nforged line`
/// ```
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

    /// Write one line, stamped with the time. Control characters in `text` (a newline or
    /// an escape sequence in a name a client sent) are written escaped, so a client can
    /// neither forge a log line nor reach the terminal that shows the log.
    pub fn line(&self, text: std::fmt::Arguments<'_>) {
        let text = text.to_string();
        let mut line = format!(
            "{} mycelium serve: ",
            jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%S%.3fZ")
        );
        for c in text.chars() {
            if c.is_control() {
                line.extend(c.escape_default());
            } else {
                line.push(c);
            }
        }
        line.push('\n');
        let _ = std::io::stderr().write_all(line.as_bytes());
        if let Some(f) = &self.file {
            let mut f = f.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let _ = f.write_all(line.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped_in_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("serve.log");
        let log = Log::with_file(&path).unwrap();
        log.line(format_args!("tool {}", "x\n2026-01-01 forged\u{1b}[2J\r"));
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 1, "{text:?}");
        assert!(
            text.ends_with("tool x\\n2026-01-01 forged\\u{1b}[2J\\r\n"),
            "{text:?}"
        );
    }
}
