//! The single time reference of a transaction (PEC-SPEC §9.1).
//!
//! Every artefact one point produces in a transaction (receipt `Date:`, daticert `<data>`,
//! the human text, the log) uses one instant, shown in Italian legal time (Europe/Rome).

use chrono::{DateTime, FixedOffset, Offset, TimeZone, Utc};
use chrono_tz::Europe::Rome;

/// One instant, as PEC shows it: Italian legal time with its UTC offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RiferimentoTemporale {
    local: DateTime<FixedOffset>,
}

impl RiferimentoTemporale {
    /// The Italian legal time of the UTC instant `now` (passed in: this crate never reads a clock).
    pub fn from_utc(now: DateTime<Utc>) -> Self {
        let rome = Rome.from_utc_datetime(&now.naive_utc());
        let offset = rome.offset().fix();
        Self {
            local: now.with_timezone(&offset),
        }
    }

    /// A time reference with an explicit offset, as read from a daticert of another provider.
    pub fn from_fixed(local: DateTime<FixedOffset>) -> Self {
        Self { local }
    }

    /// The instant in local time with its offset.
    pub fn local(&self) -> DateTime<FixedOffset> {
        self.local
    }

    /// The instant in UTC.
    pub fn utc(&self) -> DateTime<Utc> {
        self.local.with_timezone(&Utc)
    }

    /// daticert `<giorno>`: `dd/mm/yyyy`.
    pub fn giorno(&self) -> String {
        self.local.format("%d/%m/%Y").to_string()
    }

    /// daticert `<ora>`: `hh:mm:ss`, local time.
    pub fn ora(&self) -> String {
        self.local.format("%H:%M:%S").to_string()
    }

    /// daticert `zona` attribute: `+hhmm` / `-hhmm`.
    pub fn zona(&self) -> String {
        self.local.format("%z").to_string()
    }

    /// RFC 5322 `Date:` header value, e.g. `Fri, 07 Nov 2014 16:52:00 +0100`.
    pub fn rfc5322(&self) -> String {
        self.local.format("%a, %d %b %Y %H:%M:%S %z").to_string()
    }

    /// The form used in the human text: `07/11/2014 alle ore 16:52:00 (+0100)`.
    pub fn testo(&self) -> String {
        format!(
            "{} alle ore {} ({})",
            self.giorno(),
            self.ora(),
            self.zona()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn winter_time_is_plus_one() {
        let t =
            RiferimentoTemporale::from_utc(Utc.with_ymd_and_hms(2014, 11, 7, 15, 52, 0).unwrap());
        assert_eq!(t.giorno(), "07/11/2014");
        assert_eq!(t.ora(), "16:52:00");
        assert_eq!(t.zona(), "+0100");
        assert_eq!(t.rfc5322(), "Fri, 07 Nov 2014 16:52:00 +0100");
    }

    #[test]
    fn summer_time_is_plus_two() {
        let t =
            RiferimentoTemporale::from_utc(Utc.with_ymd_and_hms(2023, 8, 18, 15, 37, 14).unwrap());
        assert_eq!(t.testo(), "18/08/2023 alle ore 17:37:14 (+0200)");
    }
}
