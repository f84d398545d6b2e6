//! `mycelium logs ID [-f]`: a workflow's stored, sanitized output, optionally followed
//! until the workflow ends.

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::Result;

use super::args::LogsArgs;
use super::{exit, get_workflow, open_store_settled, state_error};
use crate::state::{OutputCursor, OutputPiece, follow_output};

/// How often a follower reads the store when no event wakes it (output publishes none).
const POLL: Duration = Duration::from_millis(250);

/// Why printing stopped.
enum Stop {
    /// A store error.
    Failed(anyhow::Error),
    /// Standard output was closed (`logs ID | head`): not an error.
    Closed,
}

impl From<crate::state::StateError> for Stop {
    fn from(e: crate::state::StateError) -> Self {
        Stop::Failed(state_error(e))
    }
}

/// How long a follower stays silent on a terminal before it says the workflow still runs,
/// and how often it says it again.
const QUIET_NOTICE: Duration = Duration::from_secs(30);

/// The silence notices of `logs -f` on a terminal.
struct Quiet {
    on_terminal: bool,
    since: std::time::Instant,
}

impl Quiet {
    fn new(on_terminal: bool) -> Self {
        Quiet {
            on_terminal,
            since: std::time::Instant::now(),
        }
    }

    fn output(&mut self) {
        self.since = std::time::Instant::now();
    }

    /// Nothing new: after [`QUIET_NOTICE`] of silence, say how long it has been going.
    fn waiting(&mut self, record: &crate::state::WorkflowRecord) {
        if !self.on_terminal || self.since.elapsed() < QUIET_NOTICE {
            return;
        }
        self.since = std::time::Instant::now();
        let from = record.started_at.unwrap_or(record.created_at);
        let elapsed = jiff::Timestamp::now().duration_since(from).unsigned_abs();
        eprintln!(
            "mycelium: {} {} for {}, no new output",
            record.workflow_id,
            record.status,
            crate::policy::format_duration(Duration::from_secs(elapsed.as_secs()))
        );
    }
}

pub(super) fn run(args: &LogsArgs, redis: Option<&str>) -> Result<i32> {
    let store = open_store_settled(redis)?;
    // Checked first, so an unknown id is reported as such before anything is printed.
    get_workflow(&*store, args.id)?;
    let mut stdout = std::io::stdout().lock();
    // On a terminal, a long silence says how long the workflow has been going; piped,
    // nothing extra.
    let mut quiet = Quiet::new(std::io::stderr().is_terminal());
    let mut print = |piece: OutputPiece<'_>| -> Result<(), Stop> {
        let written = match piece {
            OutputPiece::Waiting(record) => {
                quiet.waiting(record);
                Ok(())
            }
            OutputPiece::Text(text) => {
                quiet.output();
                stdout
                    .write_all(text.as_bytes())
                    .and_then(|()| stdout.flush())
            }
            OutputPiece::Dropped(n) => {
                // Flushed first, so on a terminal the note sits where the gap is.
                let flushed = stdout.flush();
                eprintln!("mycelium: {n} bytes dropped by the output cap");
                flushed
            }
        };
        match written {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Stop::Closed),
            Err(e) => Err(Stop::Failed(
                anyhow::Error::new(e).context("cannot write to standard output"),
            )),
        }
    };
    let outcome = if args.follow {
        follow_output(&*store, args.id, POLL, &mut print).map(|_| ())
    } else {
        OutputCursor::new(args.id).drain(&*store, &mut print)
    };
    match outcome {
        Ok(()) | Err(Stop::Closed) => Ok(exit::OK),
        Err(Stop::Failed(e)) => Err(e),
    }
}
