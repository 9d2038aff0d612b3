//! The providers' index synced from a real slapd (issue 6).
