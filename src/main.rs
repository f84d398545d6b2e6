//! The `mycelium` binary.
//!
//! The internal launcher and spawner entries are checked before anything else — before argument parsing,
//! any runtime or any thread — because both must stay single-threaded to clone
//! and set up a sandbox safely.

fn main() {
    if mycelium::isolation::is_launcher_invocation() {
        mycelium::isolation::launcher_main();
    }
    if mycelium::isolation::spawner::is_spawner_invocation() {
        mycelium::isolation::spawner::main();
    }
    let code = mycelium::cli::run();
    std::process::exit(code);
}
