//! Every reply code the server sends, with the spec that defines it.
//!
//! Basic codes (`C…`) are from RFC 5321 §4.2 unless noted; enhanced status codes (`E…`,
//! written `class.subject.detail` on the wire, RFC 2034) are from RFC 3463 and the IANA
//! registry of RFC 5248. The name carries the number so a grep for `530` finds the place.

// --- Basic reply codes -------------------------------------------------------------------

/// Help message. RFC 5321 §4.2.2.
pub const C214_HELP: u16 = 214;
/// Greeting. RFC 5321 §4.2.2, §4.3.1.
pub const C220_SERVICE_READY: u16 = 220;
/// Closing after QUIT. RFC 5321 §4.2.2.
pub const C221_CLOSING: u16 = 221;
/// AUTH succeeded. RFC 4954 §6.
pub const C235_AUTH_SUCCEEDED: u16 = 235;
/// Requested action completed. RFC 5321 §4.2.2.
pub const C250_OK: u16 = 250;
/// Cannot VRFY, but will accept the message. RFC 5321 §3.5.3.
pub const C252_CANNOT_VRFY: u16 = 252;
/// AUTH challenge (continuation). RFC 4954 §4.
pub const C334_AUTH_CONTINUE: u16 = 334;
/// Start mail input. RFC 5321 §4.2.2, §4.1.1.4.
pub const C354_START_INPUT: u16 = 354;
/// Service not available, closing the channel. RFC 5321 §3.8, §4.2.3.
pub const C421_SERVICE_UNAVAILABLE: u16 = 421;
/// Local error in processing. RFC 5321 §4.2.3.
pub const C451_LOCAL_ERROR: u16 = 451;
/// Insufficient system storage; also "too many recipients". RFC 5321 §4.5.3.1.10.
pub const C452_TOO_MANY_RECIPIENTS: u16 = 452;
/// Temporary authentication failure. RFC 4954 §6.
pub const C454_TEMP_AUTH_FAILURE: u16 = 454;
/// Syntax error, command unrecognised or line too long. RFC 5321 §4.2.3, §4.5.3.1.4.
pub const C500_SYNTAX_ERROR: u16 = 500;
/// Syntax error in parameters or arguments; also undecodable AUTH response (RFC 4954 §4).
pub const C501_PARAM_SYNTAX: u16 = 501;
/// Command not implemented. RFC 5321 §4.2.3.
pub const C502_NOT_IMPLEMENTED: u16 = 502;
/// Bad sequence of commands. RFC 5321 §4.2.3.
pub const C503_BAD_SEQUENCE: u16 = 503;
/// Command parameter not implemented; unknown AUTH mechanism (RFC 4954 §6).
pub const C504_PARAM_NOT_IMPLEMENTED: u16 = 504;
/// Must issue STARTTLS first (RFC 3207 §4) / authentication required (RFC 4954 §6).
pub const C530_SECURITY_REQUIRED: u16 = 530;
/// Authentication credentials invalid. RFC 4954 §6.
pub const C535_AUTH_INVALID: u16 = 535;
/// Exceeded storage allocation (message too big). RFC 5321 §4.2.3, RFC 1870 §6.
pub const C552_TOO_BIG: u16 = 552;
/// Mailbox name not allowed (not the authenticated sender; non-ASCII without SMTPUTF8).
/// RFC 5321 §4.2.3, RFC 6409 §6.1, RFC 6531 §3.5.
pub const C553_MAILBOX_NAME_NOT_ALLOWED: u16 = 553;
/// Transaction failed. RFC 5321 §4.2.3.
pub const C554_TRANSACTION_FAILED: u16 = 554;

// --- Enhanced status codes (RFC 3463 / RFC 5248) ------------------------------------------

/// 2.0.0 Other undefined status (success). RFC 3463 §3.1.
pub const E200_OK: &str = "2.0.0";
/// 2.1.0 Other address status (sender accepted). RFC 3463 §3.2.
pub const E210_SENDER_OK: &str = "2.1.0";
/// 2.1.5 Destination address valid. RFC 3463 §3.2.
pub const E215_RECIPIENT_OK: &str = "2.1.5";
/// 2.5.0 Other or undefined protocol status (VRFY). RFC 3463 §3.6.
pub const E250_PROTOCOL_OK: &str = "2.5.0";
/// 2.7.0 Security status ok (authentication succeeded). RFC 4954 §6.
pub const E270_AUTH_OK: &str = "2.7.0";
/// 4.3.0 Other or undefined mail system status. RFC 3463 §3.4.
pub const E430_OTHER_MAIL_SYSTEM: &str = "4.3.0";
/// 4.3.2 System not accepting network messages (shutting down). RFC 3463 §3.4.
pub const E432_NOT_ACCEPTING: &str = "4.3.2";
/// 4.4.2 Bad connection (timeout). RFC 3463 §3.5.
pub const E442_BAD_CONNECTION: &str = "4.4.2";
/// 4.5.3 Too many recipients. RFC 3463 §3.6.
pub const E453_TOO_MANY_RECIPIENTS: &str = "4.5.3";
/// 4.7.0 Other security status (temporary auth failure, too many failures/connections).
/// RFC 4954 §6.
pub const E470_SECURITY: &str = "4.7.0";
/// 5.0.0 Other undefined status. RFC 3463 §3.1.
pub const E500_OTHER: &str = "5.0.0";
/// 5.1.3 Bad destination mailbox address syntax. RFC 3463 §3.2.
pub const E513_BAD_RCPT_SYNTAX: &str = "5.1.3";
/// 5.1.7 Bad sender's mailbox address syntax. RFC 3463 §3.2.
pub const E517_BAD_SENDER_SYNTAX: &str = "5.1.7";
/// 5.3.4 Message too big for system. RFC 3463 §3.4.
pub const E534_TOO_BIG: &str = "5.3.4";
/// 5.5.0 Other or undefined protocol status. RFC 3463 §3.6.
pub const E550_PROTOCOL: &str = "5.5.0";
/// 5.5.1 Invalid command. RFC 3463 §3.6.
pub const E551_INVALID_COMMAND: &str = "5.5.1";
/// 5.5.2 Syntax error (also line too long, undecodable base64, RFC 4954 §4). RFC 3463 §3.6.
pub const E552_SYNTAX: &str = "5.5.2";
/// 5.5.4 Invalid command arguments. RFC 3463 §3.6.
pub const E554_INVALID_ARGUMENTS: &str = "5.5.4";
/// 5.6.0 Other or undefined media error (bare CR or LF in DATA; a line over 1,000
/// octets, RFC 5321 §4.5.3.1.6). RFC 3463 §3.7.
pub const E560_MEDIA: &str = "5.6.0";
/// 5.6.7 Non-ASCII addresses not permitted for that sender/recipient. RFC 6531 §3.5, RFC 5248.
pub const E567_NON_ASCII_ADDRESS: &str = "5.6.7";
/// 5.7.0 Other or undefined security status (STARTTLS / AUTH required). RFC 3207 §4,
/// RFC 4954 §6.
pub const E570_SECURITY: &str = "5.7.0";
/// 5.7.1 Delivery not authorised (relay denied; sender not the authenticated mailbox).
/// RFC 3463 §3.8.
pub const E571_NOT_AUTHORISED: &str = "5.7.1";
/// 5.7.8 Authentication credentials invalid. RFC 4954 §6.
pub const E578_AUTH_INVALID: &str = "5.7.8";
