//! pec-store integration tests: one binary, one module per concern (STYLE §7).

mod batch;
mod blob;
mod crash;
mod group;
mod log;
mod mailbox;
mod messages;
mod queue;
mod reopen;
mod util;
