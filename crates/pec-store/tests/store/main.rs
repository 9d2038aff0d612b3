//! pec-store integration tests: one binary, one module per concern (STYLE §7).

mod batch;
mod blob;
mod copy;
mod crash;
mod expunge;
mod flags;
mod folder;
mod group;
mod integrity;
mod log;
mod mailbox;
mod messages;
mod queue;
mod reopen;
mod util;
mod watch;
