//! `mycelium cancel ID`: ask the process running a workflow to stop it.

use anyhow::Result;

use super::args::CancelArgs;
use super::{exit, get_workflow, open_store_settled, state_error};

pub(super) fn run(args: &CancelArgs, redis: Option<&str>) -> Result<i32> {
    let store = open_store_settled(redis)?;
    if store.request_cancel(args.id).map_err(state_error)? {
        println!("cancel requested for {}", args.id);
    } else {
        let record = get_workflow(&*store, args.id)?;
        println!("{} has already ended ({})", args.id, record.status);
    }
    Ok(exit::OK)
}
