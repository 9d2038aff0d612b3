//! Viruses at the access and receiving points (issue 6), with a real clamd.
