//! What only the Redis backend has: the key layout, expiry of finished workflows, the
//! events channel, and a URL's password kept out of every error.

use std::collections::HashMap;
use std::time::Duration;

use mycelium::state::{
    OutputPiece, Owner, StateError, StoreConfig, WorkflowStatus, follow_output, open_store,
};
use pretty_assertions::assert_eq;

use super::{Harness, Redis};
use super::{suite_new as new, suite_outcome as outcome};

fn layout_under(prefix: &str, test: &str) {
    let Some(h) = Redis::new(test) else { return };
    let mut config = StoreConfig::redis(&h.server.url(), prefix);
    config.retention = Duration::from_secs(86_400);
    let store = open_store(&config).unwrap();
    let mut raw = h.server.client();
    let mut pubsub_conn = h.server.client();
    let mut pubsub = pubsub_conn.as_pubsub();
    pubsub.subscribe(format!("{prefix}:events")).unwrap();
    pubsub
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();

    let created = store.create(&new("layout")).unwrap();
    let id = created.workflow_id;
    let started = store
        .start(id, &Owner::named("host-a/1"), Duration::from_secs(60))
        .unwrap();
    // While it runs, the lease index holds it, scored by when its lease lapses; it leaves
    // the index when it ends (and the emptied index with it).
    let leases = format!("{prefix}:leases");
    let lease: f64 = redis::cmd("ZSCORE")
        .arg(&leases)
        .arg(id.to_string())
        .query(&mut raw)
        .unwrap();
    let until = started.lease_until.unwrap().as_microsecond();
    assert_eq!(lease, until as f64);
    store
        .renew_lease(id, &Owner::named("host-a/1"), Duration::from_secs(120))
        .unwrap();
    let renewed: f64 = redis::cmd("ZSCORE")
        .arg(&leases)
        .arg(id.to_string())
        .query(&mut raw)
        .unwrap();
    assert!(renewed > lease, "{renewed} after {lease}");
    store.append_output(id, "hello ").unwrap();
    store.append_output(id, "world").unwrap();
    store
        .finish(id, &outcome(WorkflowStatus::Completed))
        .unwrap();

    let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut raw).unwrap();
    keys.sort();
    let hash = format!("{prefix}:workflow:{id}");
    let stream = format!("{prefix}:workflow:{id}:output");
    let index = format!("{prefix}:workflows");
    assert_eq!(keys, vec![hash.clone(), stream.clone(), index.clone()]);
    for (key, kind) in [(&hash, "hash"), (&stream, "stream"), (&index, "zset")] {
        let t: String = redis::cmd("TYPE").arg(key).query(&mut raw).unwrap();
        assert_eq!(t, kind, "{key}");
    }
    let fields: HashMap<String, String> = redis::cmd("HGETALL").arg(&hash).query(&mut raw).unwrap();
    assert_eq!(fields["workflow_id"], id.to_string());
    assert_eq!(fields["status"], "completed");
    assert_eq!(fields["agent_name"], "layout");
    assert_eq!(fields["risk_level"], "medium");
    assert_eq!(fields["exit_code"], "0");
    assert_eq!(fields["owner"], "host-a/1");
    assert_eq!(fields["result"], "the tail\n");
    assert_eq!(fields["truncated"], "1");
    assert_eq!(fields["output_bytes"], "11");
    assert!(!fields.contains_key("lease_until"));
    for t in ["created_at", "started_at", "completed_at"] {
        assert!(fields[t].ends_with('Z'), "{t} = {}", fields[t]);
        fields[t].parse::<jiff::Timestamp>().unwrap();
    }
    assert_eq!(fields["created_at"], created.created_at.to_string());
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&fields["redactions"]).unwrap(),
        serde_json::json!({"aws_key": 2, "github": 1})
    );
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&fields["layers"]).unwrap(),
        outcome(WorkflowStatus::Completed).layers
    );
    let entries: Vec<(String, HashMap<String, String>)> = redis::cmd("XRANGE")
        .arg(&stream)
        .arg("-")
        .arg("+")
        .query(&mut raw)
        .unwrap();
    let entries: Vec<(&str, &str)> = entries
        .iter()
        .map(|(i, f)| (i.as_str(), f["data"].as_str()))
        .collect();
    assert_eq!(entries, vec![("0-1", "hello "), ("0-7", "world")]);
    let score: f64 = redis::cmd("ZSCORE")
        .arg(&index)
        .arg(id.to_string())
        .query(&mut raw)
        .unwrap();
    assert_eq!(score, created.created_at.as_microsecond() as f64);

    let mut messages = Vec::new();
    for _ in 0..3 {
        let msg = pubsub.get_message().unwrap();
        assert_eq!(msg.get_channel_name(), format!("{prefix}:events"));
        messages.push(msg.get_payload::<String>().unwrap());
    }
    assert_eq!(
        messages,
        vec![
            format!("workflow:{id}:created"),
            format!("workflow:{id}:started"),
            format!("workflow:{id}:completed"),
        ]
    );
}

#[test]
fn state_redis_keys_follow_the_documented_layout() {
    layout_under("mycelium", "state_redis_keys_follow_the_documented_layout");
}

#[test]
fn state_redis_the_prefix_moves_every_key_and_the_channel() {
    layout_under(
        "tenant-7",
        "state_redis_the_prefix_moves_every_key_and_the_channel",
    );
}

#[test]
fn state_redis_finished_workflows_expire_after_the_retention() {
    let Some(h) = Redis::new("state_redis_finished_workflows_expire_after_the_retention") else {
        return;
    };
    let store = h.open_with(|c| c.retention = Duration::from_secs(86_400));
    let mut raw = h.server.client();
    let ttl = |raw: &mut redis::Connection, key: String| -> i64 {
        redis::cmd("TTL").arg(key).query(raw).unwrap()
    };
    let id = store.create(&new("x")).unwrap().workflow_id;
    store
        .start(id, &Owner::named("h/1"), Duration::from_secs(60))
        .unwrap();
    store.append_output(id, "out").unwrap();
    // Twin: while it runs nothing expires.
    assert_eq!(ttl(&mut raw, format!("mycelium:workflow:{id}")), -1);
    assert_eq!(ttl(&mut raw, format!("mycelium:workflow:{id}:output")), -1);
    store.finish(id, &outcome(WorkflowStatus::Failed)).unwrap();
    for key in [
        format!("mycelium:workflow:{id}"),
        format!("mycelium:workflow:{id}:output"),
    ] {
        let t = ttl(&mut raw, key.clone());
        assert!((86_000..=86_400).contains(&t), "{key}: ttl {t}");
    }
    // A lost workflow expires the same way.
    let lost = store.create(&new("lost")).unwrap().workflow_id;
    store
        .start(lost, &Owner::named("h/2"), Duration::from_secs(1))
        .unwrap();
    let later = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_mins(5))
        .unwrap();
    assert_eq!(store.recover_lost(later).unwrap(), vec![lost]);
    let t = ttl(&mut raw, format!("mycelium:workflow:{lost}"));
    assert!((86_000..=86_400).contains(&t), "ttl {t}");
    // An id whose hash Redis expired (here: deleted) leaves the index at the next sweep
    // after its retention; the sweep looks only at workflows created before that.
    let _: () = redis::cmd("DEL")
        .arg(format!("mycelium:workflow:{id}"))
        .query(&mut raw)
        .unwrap();
    assert_eq!(store.sweep(jiff::Timestamp::now()).unwrap(), 0);
    let after_retention = jiff::Timestamp::now()
        .checked_add(jiff::SignedDuration::from_hours(24) + jiff::SignedDuration::from_mins(1))
        .unwrap();
    assert_eq!(store.sweep(after_retention).unwrap(), 1);
    let members: Vec<String> = redis::cmd("ZRANGE")
        .arg("mycelium:workflows")
        .arg(0)
        .arg(-1)
        .query(&mut raw)
        .unwrap();
    assert_eq!(members, vec![lost.to_string()]);
}

#[test]
fn state_redis_a_url_password_never_appears_in_errors_or_debug() {
    let server_pw = "s3rver-pw-4d1f";
    let Some(h) = crate::common::gate::require_redis(
        "state_redis_a_url_password_never_appears_in_errors_or_debug",
        &["--requirepass", server_pw],
    ) else {
        return;
    };
    let port = h.port();
    let wrong = "wr0ng-pw-canary";
    let show = |e: &dyn std::error::Error| {
        let mut text = format!("{e} {e:?}");
        let mut source = e.source();
        while let Some(s) = source {
            text.push_str(&format!(" {s} {s:?}"));
            source = s.source();
        }
        text
    };
    for url in [
        format!("redis://:{wrong}@127.0.0.1:{port}/"),
        format!("redis://default:{wrong}@127.0.0.1:{port}/"),
    ] {
        let config = StoreConfig::redis(&url, "mycelium");
        assert!(!format!("{config:?}").contains(wrong));
        let e = open_store(&config).expect_err("a wrong password is refused");
        let text = show(&e);
        assert!(!text.contains(wrong), "{text}");
        assert!(text.contains(":***@127.0.0.1"), "{text}");
    }
    // Twin: the right password works, and still shows nowhere.
    let good = format!("redis://:{server_pw}@127.0.0.1:{port}/");
    let store = open_store(&StoreConfig::redis(&good, "mycelium")).unwrap();
    assert!(!format!("{store:?}").contains(server_pw));
    store.create(&new("x")).unwrap();
    // A server that went away: the error names the URL, not the password.
    drop(h);
    let e = store.create(&new("y")).unwrap_err();
    let text = show(&e);
    assert!(!text.contains(server_pw), "{text}");
    assert!(
        text.starts_with(&format!(
            "redis at redis://:***@127.0.0.1:{port}/: record a workflow failed"
        )),
        "{text}"
    );
}

#[test]
fn state_redis_a_handle_reconnects_after_the_server_restarts() {
    let Some(mut h) = Redis::new("state_redis_a_handle_reconnects_after_the_server_restarts")
    else {
        return;
    };
    let store = h.open();
    store.create(&new("before")).unwrap();
    h.server.stop();
    let e = store.create(&new("while down")).unwrap_err();
    assert!(
        e.to_string().starts_with(&format!(
            "redis at {}: record a workflow failed",
            h.server.url()
        )),
        "{e}"
    );
    h.server.restart().unwrap();
    // The same handle reconnects on its next call (the test server keeps no data).
    let id = store.create(&new("after")).unwrap().workflow_id;
    assert_eq!(store.get(id).unwrap().unwrap().agent_name, "after");
}

#[test]
fn state_redis_a_follower_whose_event_connection_drops_goes_on_polling() {
    let Some(h) = Redis::new("state_redis_a_follower_whose_event_connection_drops_goes_on_polling")
    else {
        return;
    };
    let store = h.open();
    let id = store.create(&new("followed")).unwrap().workflow_id;
    store
        .start(id, &Owner::named("host-a/1"), Duration::from_secs(60))
        .unwrap();
    store.append_output(id, "one\n").unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let config = h.config();
    let follower = std::thread::spawn(move || {
        let store = open_store(&config).unwrap();
        let mut text = String::new();
        let end = follow_output::<StateError>(&*store, id, Duration::from_millis(50), |p| {
            let said = match p {
                OutputPiece::Text(t) => {
                    text.push_str(t);
                    t.to_owned()
                }
                OutputPiece::Waiting(r) => format!("<waiting {}>", r.status),
                OutputPiece::Dropped(n) => format!("<dropped {n}>"),
            };
            let _ = tx.send(said);
            Ok(())
        });
        (end, text)
    });
    let next_text = || loop {
        let said = rx.recv().unwrap();
        if !said.starts_with("<waiting") {
            return said;
        }
    };
    assert_eq!(next_text(), "one\n");
    // It has subscribed (before its first read) and now waits for an event.
    assert_eq!(rx.recv().unwrap(), "<waiting running>");
    // The server drops the follower's subscription, and that connection alone.
    let killed: i64 = ::redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query(&mut h.server.client())
        .unwrap();
    assert_eq!(killed, 1);
    // Output (which publishes no event) and the end still reach it, by polling alone.
    store.append_output(id, "two\n").unwrap();
    assert_eq!(next_text(), "two\n");
    store
        .finish(id, &outcome(WorkflowStatus::Completed))
        .unwrap();
    let (end, text) = follower.join().unwrap();
    assert_eq!(end.unwrap().status, WorkflowStatus::Completed);
    assert_eq!(text, "one\ntwo\n");
}
