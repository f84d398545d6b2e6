//! `mycelium policy check` and `explain` on real files.

use pretty_assertions::assert_eq;

use crate::common::{mycelium, policies_dir, stdout};

#[test]
fn shipped_policies_are_valid() {
    for entry in std::fs::read_dir(policies_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let out = mycelium(&["policy", "check", path.to_str().unwrap()]);
            assert_eq!(
                out.status.code(),
                Some(0),
                "{}: {}",
                path.display(),
                stdout(&out)
            );
        }
    }
}
