//! Reading a workflow's stored output in order, once or following it until the workflow
//! ends (`mycelium logs [-f]`).
//!
//! It only reads: the text handed on is what the store holds, already sanitized. Its
//! invariant: every byte still stored is handed on exactly once and in order, and every
//! byte the output cap dropped before it could be read is reported as a count
//! ([`OutputPiece::Dropped`]), so a reader always knows when it is not seeing everything.

use std::time::{Duration, Instant};

use super::{StateError, WorkflowId, WorkflowRecord, WorkflowStore};

/// How many bytes one read asks for.
const PAGE_BYTES: u64 = 64 * 1024;

/// What a reader is handed, in order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OutputPiece<'a> {
    /// This many bytes were dropped by the output cap before they could be read; the
    /// next text follows the gap.
    Dropped(u64),
    /// Stored (sanitized) output.
    Text(&'a str),
    /// Nothing new this round; the workflow, not yet ended, as it stands ([`follow_output`]
    /// only: a follower may say it is still waiting).
    Waiting(&'a WorkflowRecord),
}

/// A position in one workflow's combined output, starting at its beginning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputCursor {
    id: WorkflowId,
    next: u64,
}

impl OutputCursor {
    /// A cursor at the start (offset 0) of `id`'s output.
    #[must_use]
    pub fn new(id: WorkflowId) -> Self {
        OutputCursor { id, next: 0 }
    }

    /// The byte offset of the next text to read.
    #[must_use]
    pub fn offset(&self) -> u64 {
        self.next
    }

    /// Hand everything stored from the cursor on to `sink`, page by page, and move past
    /// it. Output appended while this runs may be left for the next call.
    ///
    /// # Errors
    /// A [`StateError`] from the store ([`StateError::NotFound`] when there is no such
    /// workflow), or the sink's own error.
    pub fn drain<E: From<StateError>>(
        &mut self,
        store: &dyn WorkflowStore,
        sink: &mut impl FnMut(OutputPiece<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        loop {
            let page = store.read_output(self.id, self.next, PAGE_BYTES)?;
            // The cursor always sits on a character boundary (it starts at 0 and moves to
            // the end of whole pages), so a later start means the cap dropped the bytes.
            if page.offset > self.next {
                sink(OutputPiece::Dropped(page.offset - self.next))?;
                self.next = page.offset;
            }
            if page.text.is_empty() || page.next_offset <= self.next {
                return Ok(());
            }
            sink(OutputPiece::Text(&page.text))?;
            self.next = page.next_offset;
            if self.next >= page.total {
                return Ok(());
            }
        }
    }
}

/// Hand `id`'s output to `sink` from the beginning and keep following it until the
/// workflow reaches a terminal status; returns the final record.
///
/// Output publishes no event, so the store is read again at least every `poll`; the
/// workflow's own events (a status change) wake the follower sooner. The status is read
/// before each read of the output, so the output a finished workflow appended before it
/// finished is always handed on before this returns. When the event stream fails the
/// follower goes on polling alone (a store that is really gone fails the next read).
/// A workflow whose owner stopped renewing its lease (killed, its host lost) is settled
/// here (`recover_lost`, best effort: a store this process cannot write is only read), so
/// a follower ends instead of waiting for a workflow nobody runs.
///
/// # Errors
/// [`StateError::NotFound`] when there is no such workflow (or it was removed while
/// followed), another [`StateError`] from the store, or the sink's own error.
pub fn follow_output<E: From<StateError>>(
    store: &dyn WorkflowStore,
    id: WorkflowId,
    poll: Duration,
    mut sink: impl FnMut(OutputPiece<'_>) -> Result<(), E>,
) -> Result<WorkflowRecord, E> {
    // Subscribed before the first read, so no transition after that read is missed.
    let mut events = store.subscribe().ok();
    let mut cursor = OutputCursor::new(id);
    loop {
        let record = store.get(id)?.ok_or(StateError::NotFound(id))?;
        let before = cursor.next;
        cursor.drain(store, &mut sink)?;
        if record.status.is_terminal() {
            return Ok(record);
        }
        if cursor.next == before {
            sink(OutputPiece::Waiting(&record))?;
        }
        let now = super::now();
        if record.lease_until.is_some_and(|until| until < now)
            && store.recover_lost(now).is_ok_and(|lost| lost.contains(&id))
        {
            // Settled: the next round reads its end.
            continue;
        }
        wait_for(&mut events, id, poll);
    }
}

/// Wait until `id` has an event or `poll` has passed.
fn wait_for(events: &mut Option<Box<dyn super::EventStream>>, id: WorkflowId, poll: Duration) {
    let deadline = Instant::now() + poll;
    let Some(stream) = events.as_mut() else {
        std::thread::sleep(poll);
        return;
    };
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        match stream.next_event(left) {
            Ok(Some(ev)) if ev.workflow_id == id => return,
            Ok(Some(_)) => {}
            Ok(None) => return,
            Err(_) => {
                *events = None;
                std::thread::sleep(left);
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::policy::RiskLevel;
    use crate::state::{
        MAX_CHUNK_BYTES, NewWorkflow, Outcome, Owner, StoreConfig, WorkflowStatus, open_store,
    };

    fn store(dir: &tempfile::TempDir, max_chunks: u64) -> Box<dyn WorkflowStore> {
        let mut config = StoreConfig::sqlite(&dir.path().join("state.db"));
        config.output_max_chunks = max_chunks;
        open_store(&config).unwrap()
    }

    fn create(store: &dyn WorkflowStore) -> WorkflowId {
        store
            .create(&NewWorkflow {
                agent_name: "echo".to_owned(),
                task: "t".to_owned(),
                risk_level: RiskLevel::Low,
                checksum: "sha256:00".to_owned(),
            })
            .unwrap()
            .workflow_id
    }

    fn finish(store: &dyn WorkflowStore, id: WorkflowId) {
        store
            .finish(
                id,
                &Outcome {
                    status: WorkflowStatus::Completed,
                    exit_code: Some(0),
                    error: None,
                    result: String::new(),
                    truncated: false,
                    redactions: BTreeMap::new(),
                    layers: serde_json::Value::Null,
                },
            )
            .unwrap();
    }

    /// The pieces, with the text of consecutive `Text` pieces joined.
    fn collect(cursor: &mut OutputCursor, store: &dyn WorkflowStore) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        cursor
            .drain::<StateError>(store, &mut |p| {
                match p {
                    OutputPiece::Dropped(n) => out.push(format!("<dropped {n}>")),
                    OutputPiece::Text(t) => match out.last_mut() {
                        Some(last) if !last.starts_with("<dropped") => last.push_str(t),
                        _ => out.push(t.to_owned()),
                    },
                    // A cursor's drain never waits.
                    OutputPiece::Waiting(_) => out.push("<waiting>".to_owned()),
                }
                Ok(())
            })
            .unwrap();
        out
    }

    #[test]
    fn drain_reads_everything_across_pages_then_only_what_is_new() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir, 1024);
        let id = create(&*store);
        let big = "0123456789abcdef".repeat(PAGE_BYTES as usize / 8); // two pages
        store.append_output(id, &big).unwrap();
        let mut cursor = OutputCursor::new(id);
        assert_eq!(collect(&mut cursor, &*store), vec![big.clone()]);
        assert_eq!(cursor.offset(), big.len() as u64);
        assert_eq!(collect(&mut cursor, &*store), Vec::<String>::new());
        store.append_output(id, "more\n").unwrap();
        assert_eq!(collect(&mut cursor, &*store), vec!["more\n".to_owned()]);
    }

    #[test]
    fn output_dropped_by_the_cap_is_reported_as_a_count() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir, 2);
        let id = create(&*store);
        let chunk = |c: char| c.to_string().repeat(MAX_CHUNK_BYTES);
        for c in ['a', 'b', 'c'] {
            store.append_output(id, &chunk(c)).unwrap();
        }
        let mut cursor = OutputCursor::new(id);
        assert_eq!(
            collect(&mut cursor, &*store),
            vec![
                format!("<dropped {MAX_CHUNK_BYTES}>"),
                format!("{}{}", chunk('b'), chunk('c'))
            ]
        );
        // A reader that falls behind while the cap drops more learns of the new gap.
        for c in ['d', 'e', 'f'] {
            store.append_output(id, &chunk(c)).unwrap();
        }
        assert_eq!(
            collect(&mut cursor, &*store),
            vec![
                format!("<dropped {MAX_CHUNK_BYTES}>"),
                format!("{}{}", chunk('e'), chunk('f'))
            ]
        );
    }

    #[test]
    fn unknown_workflows_are_not_found() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir, 1024);
        let id = WorkflowId::generate().unwrap();
        let e = OutputCursor::new(id)
            .drain::<StateError>(&*store, &mut |_| Ok(()))
            .unwrap_err();
        assert!(matches!(e, StateError::NotFound(x) if x == id), "{e}");
        let e = follow_output::<StateError>(&*store, id, Duration::from_millis(10), |_| Ok(()))
            .unwrap_err();
        assert!(matches!(e, StateError::NotFound(x) if x == id), "{e}");
    }

    #[test]
    fn follow_says_it_waits_and_other_workflows_events_do_not_end_the_wait() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir, 1024);
        let id = create(&*store);
        let other = create(&*store);
        let owner = Owner::named("h/1");
        store.start(id, &owner, Duration::from_secs(60)).unwrap();
        // Another process's handle on the same file.
        let writer = open_store(&StoreConfig::sqlite(&dir.path().join("state.db"))).unwrap();
        let mut seen = Vec::new();
        // A poll longer than the test: only the followed workflow's own event ends a wait.
        let record = follow_output::<StateError>(&*store, id, Duration::from_secs(600), |p| {
            match p {
                OutputPiece::Waiting(r) => {
                    seen.push(format!("<waiting {}>", r.status));
                    // Written while the follower is about to wait: another workflow's
                    // event first (passed over), output (no event), then the end.
                    writer.start(other, &owner, Duration::from_secs(60))?;
                    writer.append_output(id, "late\n")?;
                    finish(&*writer, id);
                }
                OutputPiece::Text(t) => seen.push(t.to_owned()),
                OutputPiece::Dropped(n) => seen.push(format!("<dropped {n}>")),
            }
            Ok(())
        })
        .unwrap();
        assert_eq!(record.status, WorkflowStatus::Completed);
        assert_eq!(seen, vec!["<waiting running>", "late\n"]);
    }

    #[test]
    fn follow_hands_on_output_appended_later_and_returns_when_it_ends() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(&dir, 1024);
        let id = create(&*store);
        store
            .start(id, &Owner::named("h/1"), Duration::from_secs(60))
            .unwrap();
        store.append_output(id, "one\n").unwrap();
        let (seen_tx, seen_rx) = std::sync::mpsc::channel::<String>();
        let writer = {
            let path = dir.path().join("state.db");
            std::thread::spawn(move || {
                let store = open_store(&StoreConfig::sqlite(&path)).unwrap();
                // Only after the follower has handed on the first line.
                assert_eq!(seen_rx.recv().unwrap(), "one\n");
                store.append_output(id, "two\n").unwrap();
                store.append_output(id, "three\n").unwrap();
                finish(&*store, id);
            })
        };
        let mut text = String::new();
        let record = follow_output::<StateError>(&*store, id, Duration::from_millis(50), |p| {
            if let OutputPiece::Text(t) = p {
                text.push_str(t);
                let _ = seen_tx.send(t.to_owned());
            }
            Ok(())
        })
        .unwrap();
        writer.join().unwrap();
        assert_eq!(text, "one\ntwo\nthree\n");
        assert_eq!(record.status, WorkflowStatus::Completed);
    }
}
