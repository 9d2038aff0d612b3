//! Every response code the server puts in brackets after `-ERR`, with the spec that defines
//! it. Advertised by the `RESP-CODES` and `AUTH-RESP-CODE` capabilities (RFC 2449 §6.4,
//! RFC 3206 §6), so clients know whether to retry or to ask the user for a new password.

/// A temporary failure on our side (store down, shutting down, too many connections): the
/// client may retry later. RFC 3206 §4.
pub const SYS_TEMP: &str = "[SYS/TEMP]";
/// A failure that will not go away by retrying the same way (TLS required first).
/// RFC 3206 §4.
pub const SYS_PERM: &str = "[SYS/PERM]";
/// The credentials were refused: the client should ask the user, not retry. RFC 3206 §5.
pub const AUTH: &str = "[AUTH]";
