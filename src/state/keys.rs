//! Every Redis key and channel name mycelium uses, in one place. Names are built only from
//! the configured prefix (validated: no `:`) and a validated [`WorkflowId`], so no caller
//! text ever shapes a key.

use super::WorkflowId;

/// The names under one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Keys {
    prefix: String,
}

impl Keys {
    /// The names under `prefix` (default `mycelium`).
    #[must_use]
    pub fn new(prefix: &str) -> Self {
        Keys {
            prefix: prefix.to_owned(),
        }
    }

    /// `<prefix>:workflow:<id>`: the hash of the record's fields.
    #[must_use]
    pub fn workflow(&self, id: WorkflowId) -> String {
        format!("{}:workflow:{id}", self.prefix)
    }

    /// `<prefix>:workflow:<id>:output`: the capped stream of sanitized output chunks.
    #[must_use]
    pub fn output(&self, id: WorkflowId) -> String {
        format!("{}:workflow:{id}:output", self.prefix)
    }

    /// `<prefix>:workflows`: every workflow id, scored by creation time (microseconds
    /// since the epoch).
    #[must_use]
    pub fn index(&self) -> String {
        format!("{}:workflows", self.prefix)
    }

    /// `<prefix>:leases`: the running workflows' ids, scored by when their owner's lease
    /// lapses (microseconds since the epoch), so lapsed ones are found without reading
    /// every record.
    #[must_use]
    pub fn leases(&self) -> String {
        format!("{}:leases", self.prefix)
    }

    /// `<prefix>:events`: the pub/sub channel of `workflow:<id>:<event>` messages.
    #[must_use]
    pub fn events(&self) -> String {
        format!("{}:events", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_documented_layout() {
        let id = WorkflowId::parse("00112233445566778899aabbccddeeff").unwrap();
        let k = Keys::new("mycelium");
        assert_eq!(
            k.workflow(id),
            "mycelium:workflow:00112233445566778899aabbccddeeff"
        );
        assert_eq!(
            k.output(id),
            "mycelium:workflow:00112233445566778899aabbccddeeff:output"
        );
        assert_eq!(k.index(), "mycelium:workflows");
        assert_eq!(k.leases(), "mycelium:leases");
        assert_eq!(k.events(), "mycelium:events");
    }
}
