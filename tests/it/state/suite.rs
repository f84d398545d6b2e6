//! The behaviours every backend must have; each function is run by `state_sqlite` and
//! `state_redis` (see `mod.rs`).

use std::collections::BTreeMap;
use std::time::Duration;

use mycelium::policy::RiskLevel;
use mycelium::state::{
    EXECUTOR_LOST, EventKind, ListFilter, NewWorkflow, Outcome, Owner, StateError, WorkflowEvent,
    WorkflowId, WorkflowStatus, WorkflowStore,
};
use pretty_assertions::assert_eq;

use super::Harness;

const LEASE: Duration = Duration::from_secs(60);

pub fn new(agent: &str) -> NewWorkflow {
    NewWorkflow {
        agent_name: agent.to_owned(),
        task: format!("task for {agent}"),
        risk_level: RiskLevel::Medium,
        checksum: "sha256:0123abcd".to_owned(),
    }
}

pub fn outcome(status: WorkflowStatus) -> Outcome {
    Outcome {
        status,
        exit_code: Some(if status == WorkflowStatus::Completed {
            0
        } else {
            3
        }),
        error: (status != WorkflowStatus::Completed).then(|| "exit status 3".to_owned()),
        result: "the tail\n".to_owned(),
        truncated: true,
        redactions: BTreeMap::from([("aws_key".to_owned(), 2), ("github".to_owned(), 1)]),
        layers: serde_json::json!({"landlock": "enforced", "seccomp": {"profile": "default"}}),
    }
}

fn owner() -> Owner {
    Owner::named("host-a/1234-abcd")
}

fn status_of(store: &dyn WorkflowStore, id: WorkflowId) -> WorkflowStatus {
    store.get(id).unwrap().unwrap().status
}

pub fn transitions_record_every_field(h: &impl Harness) {
    let store = h.open();
    let created = store.create(&new("echo")).unwrap();
    assert_eq!(created.status, WorkflowStatus::Pending);
    assert_eq!(
        store.get(created.workflow_id).unwrap().as_ref(),
        Some(&created)
    );
    assert_eq!(created.started_at, None);
    assert_eq!(created.owner, None);

    let before = jiff::Timestamp::now();
    let running = store.start(created.workflow_id, &owner(), LEASE).unwrap();
    assert_eq!(running.status, WorkflowStatus::Running);
    assert_eq!(running.owner.as_deref(), Some("host-a/1234-abcd"));
    let started = running.started_at.unwrap();
    assert!(started >= created.created_at);
    let lease = running.lease_until.unwrap();
    assert!(
        lease
            >= before
                .checked_add(jiff::SignedDuration::from_secs(59))
                .unwrap()
    );
    assert_eq!(
        store.get(created.workflow_id).unwrap().as_ref(),
        Some(&running)
    );

    let done = store
        .finish(created.workflow_id, &outcome(WorkflowStatus::Completed))
        .unwrap();
    let mut want = running.clone();
    want.status = WorkflowStatus::Completed;
    want.completed_at = done.completed_at;
    want.exit_code = Some(0);
    want.result = Some("the tail\n".to_owned());
    want.truncated = true;
    want.redactions = outcome(WorkflowStatus::Completed).redactions;
    want.layers = outcome(WorkflowStatus::Completed).layers;
    want.lease_until = None;
    assert_eq!(done, want);
    assert!(done.completed_at.unwrap() >= started);
    // A second handle reads the same record back, every field.
    assert_eq!(h.open().get(created.workflow_id).unwrap(), Some(done));

    // Every terminal status can be reached, from running and from pending.
    for status in [
        WorkflowStatus::Failed,
        WorkflowStatus::Cancelled,
        WorkflowStatus::TimedOut,
    ] {
        let r = store.create(&new("x")).unwrap();
        store.start(r.workflow_id, &owner(), LEASE).unwrap();
        let f = store.finish(r.workflow_id, &outcome(status)).unwrap();
        assert_eq!(
            (f.status, f.exit_code, f.error.as_deref()),
            (status, Some(3), Some("exit status 3"))
        );
        let p = store.create(&new("y")).unwrap();
        assert_eq!(
            store
                .finish(p.workflow_id, &outcome(status))
                .unwrap()
                .status,
            status
        );
    }
}

pub fn terminal_status_is_never_overwritten(h: &impl Harness) {
    let store = h.open();
    let other = h.open();
    let id = store.create(&new("a")).unwrap().workflow_id;
    store.start(id, &owner(), LEASE).unwrap();
    // A status that is not final cannot be used to finish.
    for status in [WorkflowStatus::Pending, WorkflowStatus::Running] {
        let e = store.finish(id, &outcome(status)).unwrap_err();
        assert!(matches!(e, StateError::InvalidTransition { .. }), "{e}");
    }
    assert_eq!(status_of(&*store, id), WorkflowStatus::Running);
    // Starting twice is refused.
    let e = other.start(id, &owner(), LEASE).unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("workflow {id} is running: cannot start it")
    );

    let cancelled = store
        .finish(id, &outcome(WorkflowStatus::Cancelled))
        .unwrap();
    for status in [
        WorkflowStatus::Completed,
        WorkflowStatus::Failed,
        WorkflowStatus::TimedOut,
        WorkflowStatus::Cancelled,
    ] {
        let e = other.finish(id, &outcome(status)).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("workflow {id} is cancelled: cannot finish it again")
        );
    }
    let e = other.start(id, &owner(), LEASE).unwrap_err();
    assert!(matches!(
        e,
        StateError::InvalidTransition {
            status: WorkflowStatus::Cancelled,
            ..
        }
    ));
    assert!(!other.request_cancel(id).unwrap());
    let e = other.append_output(id, "late").unwrap_err();
    assert!(matches!(e, StateError::InvalidTransition { .. }), "{e}");
    let e = other.renew_lease(id, &owner(), LEASE).unwrap_err();
    assert!(matches!(e, StateError::InvalidTransition { .. }), "{e}");
    assert!(other.recover_lost(jiff::Timestamp::MAX).unwrap().is_empty());
    // Nothing changed: the same record, field for field.
    assert_eq!(other.get(id).unwrap(), Some(cancelled));
}

pub fn output_is_capped_and_paged_by_byte_offset(h: &impl Harness) {
    let store = h.open_with(|c| c.output_max_chunks = 3);
    let id = store.create(&new("chatty")).unwrap().workflow_id;
    store.start(id, &owner(), LEASE).unwrap();
    // Positive twin: under the cap everything is kept.
    store.append_output(id, "aaaa").unwrap();
    store.append_output(id, "bbbb").unwrap();
    let page = store.read_output(id, 0, 100).unwrap();
    assert_eq!(
        (
            page.offset,
            page.text.as_str(),
            page.next_offset,
            page.total
        ),
        (0, "aaaabbbb", 8, 8)
    );
    for chunk in ["cccc", "dddd", "eeee"] {
        store.append_output(id, chunk).unwrap();
    }
    // The two oldest chunks were dropped; offsets still count every byte.
    let page = store.read_output(id, 0, 100).unwrap();
    assert_eq!(
        (
            page.offset,
            page.text.as_str(),
            page.next_offset,
            page.total
        ),
        (8, "ccccddddeeee", 20, 20)
    );
    let page = store.read_output(id, 9, 5).unwrap();
    assert_eq!(
        (page.offset, page.text.as_str(), page.next_offset),
        (9, "cccdd", 14)
    );
    let page = store.read_output(id, 14, 5).unwrap();
    assert_eq!(
        (page.offset, page.text.as_str(), page.next_offset),
        (14, "ddeee", 19)
    );
    let page = store.read_output(id, 19, 5).unwrap();
    assert_eq!(
        (page.offset, page.text.as_str(), page.next_offset),
        (19, "e", 20)
    );
    let page = store.read_output(id, 20, 5).unwrap();
    assert_eq!(
        (page.offset, page.text.as_str(), page.next_offset),
        (20, "", 20)
    );
    assert_eq!(store.get(id).unwrap().unwrap().output_bytes, 20);
    // Another handle sees the same output.
    assert_eq!(h.open().read_output(id, 8, 4).unwrap().text, "cccc");
}

pub fn long_output_splits_and_pages_back_whole(h: &impl Harness) {
    let store = h.open();
    let id = store.create(&new("big")).unwrap().workflow_id;
    store.start(id, &owner(), LEASE).unwrap();
    let mut all = String::new();
    for i in 0..5 {
        // 40 KiB chunks with multi-byte characters, so splits fall near them.
        let chunk = format!("{i}:{}\n", "é✓x".repeat(40 * 1024 / 6));
        store.append_output(id, &chunk).unwrap();
        all.push_str(&chunk);
    }
    let mut got = String::new();
    let mut offset = 0;
    loop {
        let page = store.read_output(id, offset, 1000).unwrap();
        assert_eq!(page.offset, offset, "pages follow each other without gaps");
        if page.text.is_empty() {
            break;
        }
        assert!(page.text.len() <= 1003);
        got.push_str(&page.text);
        offset = page.next_offset;
    }
    assert_eq!(got.len(), all.len());
    assert!(
        got == all,
        "the output read back differs from what was appended"
    );
    assert_eq!(store.read_output(id, 0, u64::MAX).unwrap().text, all);
}

pub fn list_filters_by_status_newest_first(h: &impl Harness) {
    let store = h.open();
    let a = store.create(&new("a")).unwrap().workflow_id;
    let b = store.create(&new("b")).unwrap().workflow_id;
    let c = store.create(&new("c")).unwrap().workflow_id;
    let d = store.create(&new("d")).unwrap().workflow_id;
    store.start(b, &owner(), LEASE).unwrap();
    store.start(c, &owner(), LEASE).unwrap();
    store.finish(c, &outcome(WorkflowStatus::Failed)).unwrap();
    let ids = |status, limit| -> Vec<WorkflowId> {
        h.open()
            .list(&ListFilter { status, limit })
            .unwrap()
            .into_iter()
            .map(|r| r.workflow_id)
            .collect()
    };
    assert_eq!(ids(None, 10), vec![d, c, b, a]);
    assert_eq!(ids(None, 2), vec![d, c]);
    assert_eq!(ids(Some(WorkflowStatus::Pending), 10), vec![d, a]);
    assert_eq!(ids(Some(WorkflowStatus::Pending), 1), vec![d]);
    assert_eq!(ids(Some(WorkflowStatus::Running), 10), vec![b]);
    assert_eq!(ids(Some(WorkflowStatus::Failed), 10), vec![c]);
    assert_eq!(ids(Some(WorkflowStatus::TimedOut), 10), vec![]);
    assert_eq!(ids(None, 0), vec![]);
}

pub fn cancel_request_reaches_the_owner_through_another_handle(h: &impl Harness) {
    let owner_store = h.open();
    let id = owner_store.create(&new("long")).unwrap().workflow_id;
    owner_store.start(id, &owner(), LEASE).unwrap();
    // Twin: no request yet, the renewal says so.
    assert!(!owner_store.renew_lease(id, &owner(), LEASE).unwrap());
    let cli = h.open();
    assert!(cli.request_cancel(id).unwrap());
    assert!(owner_store.renew_lease(id, &owner(), LEASE).unwrap());
    assert!(owner_store.get(id).unwrap().unwrap().cancel_requested);
    assert_eq!(status_of(&*owner_store, id), WorkflowStatus::Running);
    // Only the owner renews.
    let e = cli
        .renew_lease(id, &Owner::named("host-b/1"), LEASE)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        format!("workflow {id} is owned by \"host-a/1234-abcd\", not by \"host-b/1\"")
    );
    owner_store
        .finish(id, &outcome(WorkflowStatus::Cancelled))
        .unwrap();
    assert!(!cli.request_cancel(id).unwrap());
    // A pending workflow can be asked to cancel too: it then never starts, it stays
    // pending until its owner records it cancelled.
    let p = owner_store.create(&new("queued")).unwrap().workflow_id;
    assert!(cli.request_cancel(p).unwrap());
    assert!(owner_store.get(p).unwrap().unwrap().cancel_requested);
    let e = owner_store.start(p, &owner(), LEASE).unwrap_err();
    assert!(
        matches!(e, StateError::CancelledBeforeStart(x) if x == p),
        "{e:?}"
    );
    let record = owner_store.get(p).unwrap().unwrap();
    assert_eq!(record.status, WorkflowStatus::Pending);
    assert_eq!(record.owner, None);
    owner_store
        .finish(p, &outcome(WorkflowStatus::Cancelled))
        .unwrap();
    assert_eq!(status_of(&*owner_store, p), WorkflowStatus::Cancelled);
}

pub fn lapsed_lease_becomes_executor_lost(h: &impl Harness) {
    let store = h.open();
    let lost = store.create(&new("lost")).unwrap().workflow_id;
    let alive = store.create(&new("alive")).unwrap().workflow_id;
    let pending = store.create(&new("pending")).unwrap().workflow_id;
    store
        .start(lost, &owner(), Duration::from_secs(10))
        .unwrap();
    store
        .start(alive, &Owner::named("host-b/9"), Duration::from_secs(3600))
        .unwrap();
    let now = jiff::Timestamp::now();
    // Twin: while the leases hold, nothing is lost.
    assert_eq!(store.recover_lost(now).unwrap(), vec![]);
    assert_eq!(status_of(&*store, lost), WorkflowStatus::Running);
    // Eleven minutes later the first lease has lapsed, the second has not.
    let later = now
        .checked_add(jiff::SignedDuration::from_mins(11))
        .unwrap();
    let other = h.open();
    assert_eq!(other.recover_lost(later).unwrap(), vec![lost]);
    let r = store.get(lost).unwrap().unwrap();
    assert_eq!(
        (r.status, r.error.as_deref()),
        (WorkflowStatus::Failed, Some(EXECUTOR_LOST))
    );
    assert_eq!(r.lease_until, None);
    assert!(r.completed_at.is_some());
    assert_eq!(status_of(&*store, alive), WorkflowStatus::Running);
    assert_eq!(status_of(&*store, pending), WorkflowStatus::Pending);
    // The owner that comes back cannot renew or overwrite the verdict.
    assert!(store.renew_lease(lost, &owner(), LEASE).is_err());
    assert!(
        store
            .finish(lost, &outcome(WorkflowStatus::Completed))
            .is_err()
    );
    assert_eq!(
        store.get(lost).unwrap().unwrap().error.as_deref(),
        Some(EXECUTOR_LOST)
    );
    assert_eq!(other.recover_lost(later).unwrap(), vec![]);
}

pub fn retention_removes_only_old_finished_workflows(h: &impl Harness) {
    let store = h.open_with(|c| c.retention = Duration::from_secs(7 * 86_400));
    let done = store.create(&new("done")).unwrap().workflow_id;
    store.start(done, &owner(), LEASE).unwrap();
    store.append_output(done, "some output").unwrap();
    store
        .finish(done, &outcome(WorkflowStatus::Completed))
        .unwrap();
    let running = store.create(&new("running")).unwrap().workflow_id;
    store.start(running, &owner(), LEASE).unwrap();
    let pending = store.create(&new("pending")).unwrap().workflow_id;
    let now = jiff::Timestamp::now();
    // Twin: within the retention everything stays.
    assert_eq!(store.sweep(now).unwrap(), 0);
    assert!(store.get(done).unwrap().is_some());
    let six_days = now
        .checked_add(jiff::SignedDuration::from_hours(6 * 24))
        .unwrap();
    assert_eq!(store.sweep(six_days).unwrap(), 0);
    let eight_days = now
        .checked_add(jiff::SignedDuration::from_hours(8 * 24))
        .unwrap();
    assert_eq!(h.open().sweep(eight_days).unwrap(), 1);
    assert_eq!(store.get(done).unwrap(), None);
    assert!(matches!(
        store.read_output(done, 0, 10),
        Err(StateError::NotFound(_))
    ));
    let left: Vec<WorkflowId> = store
        .list(&ListFilter {
            status: None,
            limit: 10,
        })
        .unwrap()
        .into_iter()
        .map(|r| r.workflow_id)
        .collect();
    assert_eq!(left, vec![pending, running]);
}

pub fn events_follow_every_transition_from_another_handle(h: &impl Harness) {
    let follower = h.open();
    let writer = h.open();
    let before = writer.create(&new("before")).unwrap().workflow_id;
    let mut events = follower.subscribe().unwrap();
    let id = writer.create(&new("evented")).unwrap().workflow_id;
    writer.start(id, &owner(), LEASE).unwrap();
    writer.request_cancel(id).unwrap();
    writer
        .finish(id, &outcome(WorkflowStatus::Cancelled))
        .unwrap();
    writer
        .finish(before, &outcome(WorkflowStatus::TimedOut))
        .unwrap();
    let mut got = Vec::new();
    while got.len() < 5 {
        match events.next_event(Duration::from_secs(10)).unwrap() {
            Some(ev) => got.push(ev),
            None => break,
        }
    }
    let ev = |workflow_id, kind| WorkflowEvent { workflow_id, kind };
    assert_eq!(
        got,
        vec![
            ev(id, EventKind::Created),
            ev(id, EventKind::Started),
            ev(id, EventKind::CancelRequested),
            ev(id, EventKind::Finished(WorkflowStatus::Cancelled)),
            ev(before, EventKind::Finished(WorkflowStatus::TimedOut)),
        ]
    );
    assert_eq!(got[3].message(), format!("workflow:{id}:cancelled"));
    // Nothing else was published.
    assert_eq!(events.next_event(Duration::from_millis(200)).unwrap(), None);
}

pub fn ids_are_random_and_unknown_ids_are_not_found(h: &impl Harness) {
    let store = h.open();
    let mut seen = std::collections::HashSet::new();
    for _ in 0..20 {
        let id = store.create(&new("x")).unwrap().workflow_id;
        let text = id.to_string();
        assert_eq!(text.len(), 32);
        assert!(
            text.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(WorkflowId::parse(&text).unwrap(), id);
        assert!(seen.insert(id));
    }
    let unknown = WorkflowId::parse("0123456789abcdef0123456789abcdef").unwrap();
    assert_eq!(store.get(unknown).unwrap(), None);
    for e in [
        store.start(unknown, &owner(), LEASE).unwrap_err(),
        store
            .finish(unknown, &outcome(WorkflowStatus::Failed))
            .unwrap_err(),
        store.append_output(unknown, "x").unwrap_err(),
        store.read_output(unknown, 0, 1).unwrap_err(),
        store.request_cancel(unknown).unwrap_err(),
        store.renew_lease(unknown, &owner(), LEASE).unwrap_err(),
    ] {
        assert_eq!(
            e.to_string(),
            "no workflow 0123456789abcdef0123456789abcdef: it does not exist or has expired"
        );
    }
    // Text that could shape a key or a query never becomes an id.
    for bad in [
        "*",
        "../../x",
        "0123456789abcdef0123456789abcde' OR 1=1",
        "0123456789ABCDEF0123456789ABCDEF",
    ] {
        assert!(WorkflowId::parse(bad).is_err(), "{bad}");
    }
    assert_eq!(
        store
            .list(&ListFilter {
                status: None,
                limit: 100
            })
            .unwrap()
            .len(),
        20
    );
}

pub fn only_the_given_sanitized_text_is_stored(h: &impl Harness) {
    // The canary stands for a credential the agent printed: the caller sanitized it away,
    // so the store must hold the placeholder the caller gave and nothing else.
    let canary = "ghp_CANARYc4n4ryC4N4RYcanary0000000000";
    let placeholder = "[REDACTED:github_token]";
    let store = h.open();
    let id = store
        .create(&NewWorkflow {
            task: format!("use token {placeholder} to deploy"),
            ..new("deploy")
        })
        .unwrap()
        .workflow_id;
    store.start(id, &owner(), LEASE).unwrap();
    store
        .append_output(id, &format!("token={placeholder}\n"))
        .unwrap();
    store
        .finish(
            id,
            &Outcome {
                result: format!("done with {placeholder}"),
                error: Some(format!("push failed for {placeholder}")),
                ..outcome(WorkflowStatus::Failed)
            },
        )
        .unwrap();
    let r = store.get(id).unwrap().unwrap();
    assert_eq!(r.task, format!("use token {placeholder} to deploy"));
    assert_eq!(
        r.result.as_deref(),
        Some(format!("done with {placeholder}").as_str())
    );
    let raw = h.raw_bytes();
    let count = |needle: &str| {
        raw.windows(needle.len())
            .filter(|w| *w == needle.as_bytes())
            .count()
    };
    // Positive twin: the raw scan does see stored text (task, output, result, error).
    assert!(
        count(placeholder) >= 4,
        "the raw scan found the placeholder {} times",
        count(placeholder)
    );
    assert!(count(&id.to_string()) >= 1);
    assert_eq!(count(canary), 0);
    assert_eq!(count("ghp_"), 0);
}

pub fn a_second_handle_reads_while_another_writes(h: &impl Harness) {
    let writer = h.open();
    let id = writer.create(&new("writer")).unwrap().workflow_id;
    writer.start(id, &owner(), LEASE).unwrap();
    let reader = h.open();
    std::thread::scope(|s| {
        let w = s.spawn(|| {
            for i in 0..200 {
                writer.append_output(id, &format!("line {i:03}\n")).unwrap();
                writer.renew_lease(id, &owner(), LEASE).unwrap();
            }
        });
        let mut last = 0;
        while !w.is_finished() {
            let r = reader.get(id).unwrap().unwrap();
            assert!(r.output_bytes >= last, "what a reader sees never goes back");
            last = r.output_bytes;
            let page = reader.read_output(id, 0, u64::MAX).unwrap();
            assert!(page.text.len() as u64 <= page.total);
        }
        w.join().unwrap();
    });
    let page = reader.read_output(id, 0, u64::MAX).unwrap();
    assert_eq!(page.total, 200 * 9);
    assert!(page.text.starts_with("line 000\nline 001\n"));
    assert!(page.text.ends_with("line 199\n"));
}
