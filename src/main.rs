//! The `mycelium` binary.
//!
//! The internal launcher entry is checked before anything else — before argument parsing,
//! any runtime or any thread — because the launcher must stay single-threaded to clone
//! and set up a sandbox safely.

fn main() {
    if mycelium::isolation::is_launcher_invocation() {
        mycelium::isolation::launcher_main();
    }
    let code = mycelium::cli::run();
    std::process::exit(code);
}
