//! End-to-end tests of the `gestore` binary with real outside tools (openssl, NSS cmsutil,
//! xmllint) and the genuine samples in `../shared/samples/real/`.

mod access;
mod bad_input;
mod between;
mod crash;
mod ldap;
mod mx;
mod probing;
mod provider;
mod sample;
mod scanner_lost;
mod serve;
mod support;
mod verify;
mod virus;
mod web;
