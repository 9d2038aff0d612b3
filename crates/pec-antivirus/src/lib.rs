//! Antivirus adapter of gestore: scans bytes with a clamd daemon.
