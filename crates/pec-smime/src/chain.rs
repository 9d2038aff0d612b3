//! Chain verdicts: what checking a signer's chain yields that does not depend on the time,
//! and when the verdict at a given time follows from it without asking openssl again.
//!
//! Invariant: a verdict derived here is the one openssl gives for the full check at that
//! time, or none is derived and the caller runs the full check. It holds because, once the
//! chain openssl builds is fixed, validity periods are the only thing it judges by the time
//! (no CRLs, no policies are checked here), and:
//! * a chain that verifies when validity periods are ignored, and whose certificates are all
//!   well inside their validity periods at `t`, verifies at `t` (a second's margin is left at
//!   each end of the periods, where the full check decides);
//! * the errors in [`BEFORE_DATES`] are raised while the chain is built or its purpose is
//!   checked, before openssl looks at any date, so they are the same at every time;
//! * the chain built is the same at every time when no certificate in it has two candidate
//!   issuers (openssl prefers a candidate valid at the verification time); otherwise nothing
//!   is derived.

use chrono::{DateTime, Utc};
use openssl::asn1::{Asn1Time, Asn1TimeRef};
use openssl::error::ErrorStack;
use openssl::stack::StackRef;
use openssl::x509::store::X509StoreRef;
use openssl::x509::{X509Ref, X509StoreContext, X509};

use crate::error::one_line;
use crate::TrustStore;

/// openssl verification errors raised before any validity period is checked (`x509_vfy.c`:
/// `build_chain` and `check_extensions` run before `internal_verify`, which checks dates).
const BEFORE_DATES: [i32; 6] = [
    2,  // X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT
    18, // X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
    19, // X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN
    20, // X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY
    21, // X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE
    26, // X509_V_ERR_INVALID_PURPOSE
];

/// The time-independent result of checking one signer's chain against one trust store.
#[derive(Debug, Clone)]
pub(crate) struct ChainVerdict {
    /// The chain verifies with validity periods ignored, or openssl's reason.
    trusted: Result<(), String>,
    /// How the verdict at a given time follows.
    timed: Timed,
}

#[derive(Debug, Clone, Copy)]
enum Timed {
    /// Trusted, and valid at every time from `from` to `until` (Unix seconds, inclusive,
    /// margins already taken off); at other times the full check decides.
    Window { from: i64, until: i64 },
    /// Failed before any date was looked at: the same reason at every time.
    SameError,
    /// Nothing can be derived: the full check decides at every time.
    Recheck,
}

impl ChainVerdict {
    /// Checks `cert`'s chain with `untrusted` as intermediates in `store`, which must hold
    /// `trust`'s anchors with validity periods ignored ([`TrustStore::store`] with `None`).
    pub(crate) fn judge(
        trust: &TrustStore,
        store: &X509StoreRef,
        cert: &X509Ref,
        untrusted: &StackRef<X509>,
    ) -> Self {
        let outcome = X509StoreContext::new().and_then(|mut ctx| {
            ctx.init(store, cert, untrusted, |c| {
                let ok = c.verify_cert()?;
                let error =
                    (!ok).then(|| (c.error().error_string().to_string(), c.error().as_raw()));
                let chain: Vec<X509> = c
                    .chain()
                    .map(|s| s.iter().map(ToOwned::to_owned).collect())
                    .unwrap_or_default();
                Ok((error, chain))
            })
        });
        let (error, chain) = match outcome {
            Ok(outcome) => outcome,
            Err(e) => return Self::failed(one_line(&e)),
        };
        let fixed = chain_is_fixed(&chain, trust.certificates(), untrusted);
        match error {
            None => {
                let timed = match window(&chain) {
                    Ok(Some((from, until))) if fixed => Timed::Window { from, until },
                    _ => Timed::Recheck,
                };
                ChainVerdict {
                    trusted: Ok(()),
                    timed,
                }
            }
            Some((reason, code)) => ChainVerdict {
                trusted: Err(reason),
                timed: if fixed && BEFORE_DATES.contains(&code) {
                    Timed::SameError
                } else {
                    Timed::Recheck
                },
            },
        }
    }

    /// openssl failed before judging anything (`reason`): derive nothing.
    pub(crate) fn failed(reason: String) -> Self {
        ChainVerdict {
            trusted: Err(reason),
            timed: Timed::Recheck,
        }
    }

    /// Whether the chain verifies with validity periods ignored, or openssl's reason.
    pub(crate) fn trusted(&self) -> &Result<(), String> {
        &self.trusted
    }

    /// The verdict at `t` when it follows from this one; `None`: run the full check.
    pub(crate) fn at(&self, t: DateTime<Utc>) -> Option<Result<(), String>> {
        match self.timed {
            Timed::Window { from, until } => {
                (from..=until).contains(&t.timestamp()).then_some(Ok(()))
            }
            Timed::SameError => Some(self.trusted.clone()),
            Timed::Recheck => None,
        }
    }
}

/// Whether every certificate of `chain` has at most one candidate issuer among the anchors
/// and the embedded certificates, so that openssl builds this chain at any time. Candidates
/// are matched by the hash of the canonical name, as openssl looks them up: a collision only
/// makes the answer more cautious.
fn chain_is_fixed(chain: &[X509], anchors: &[X509], untrusted: &StackRef<X509>) -> bool {
    let candidates: Vec<&X509Ref> = anchors
        .iter()
        .map(|c| &**c)
        .chain(untrusted.iter())
        .collect();
    chain.iter().all(|cert| {
        let issuer = cert.issuer_name_hash();
        let mut found: Vec<&X509Ref> = Vec::new();
        for &candidate in &candidates {
            if candidate.subject_name_hash() == issuer && !found.contains(&candidate) {
                found.push(candidate);
            }
        }
        found.len() <= 1
    })
}

/// The times at which every certificate of `chain` is inside its validity period, with a
/// second's margin at each end, as Unix seconds (inclusive); `None` when there are none.
fn window(chain: &[X509]) -> Result<Option<(i64, i64)>, ErrorStack> {
    if chain.is_empty() {
        return Ok(None);
    }
    let mut from = i64::MIN;
    let mut until = i64::MAX;
    for cert in chain {
        // openssl: valid when notBefore <= t < notAfter; fractions of a second are dropped
        // by `unix_seconds`, hence the margins.
        from = from.max(unix_seconds(cert.not_before())?.saturating_add(1));
        until = until.min(unix_seconds(cert.not_after())?.saturating_sub(2));
    }
    Ok((from <= until).then_some((from, until)))
}

/// An openssl time as whole seconds since the Unix epoch.
fn unix_seconds(t: &Asn1TimeRef) -> Result<i64, ErrorStack> {
    let diff = Asn1Time::from_unix(0)?.diff(t)?;
    Ok(i64::from(diff.days) * 86_400 + i64::from(diff.secs))
}

#[cfg(test)]
mod tests {
    //! The invariant of this module, checked against openssl's full answer.

    use chrono::{Duration, TimeZone};
    use openssl::stack::Stack;

    use super::*;
    use crate::{pki, PkiOptions};

    /// A signer certificate with the certificates its signature embeds.
    struct Case {
        trust: TrustStore,
        cert: X509,
        untrusted: Stack<X509>,
    }

    fn case(trust: TrustStore, cert: &[u8], embedded: &[Vec<u8>]) -> Case {
        let mut untrusted = Stack::new().unwrap();
        for der in embedded {
            untrusted.push(X509::from_der(der).unwrap()).unwrap();
        }
        Case {
            trust,
            cert: X509::from_der(cert).unwrap(),
            untrusted,
        }
    }

    fn sample_cases() -> Vec<Case> {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/samples/real/");
        let raw = std::fs::read(format!("{dir}aruba-2014-busta-1.eml")).unwrap_or_else(|e| {
            panic!(
                "genuine sample aruba-2014-busta-1.eml missing ({e}): this test reads \
                 ../shared/samples/real/ beside the project (README, Samples)"
            )
        });
        let v = crate::verify(&raw, &TrustStore::new(), Utc::now()).unwrap();
        let signer = v.signer.unwrap().der;
        let mut cases = vec![case(TrustStore::new(), &signer, &v.certificates)];
        for anchor in &v.certificates {
            let mut trust = TrustStore::new();
            trust.add_bytes(anchor).unwrap();
            cases.push(case(trust.clone(), &signer, &v.certificates));
            cases.push(case(trust, &signer, &[]));
        }
        cases
    }

    fn dev_cases() -> Vec<Case> {
        let mut cases = Vec::new();
        let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
        let mut anchors = Vec::new();
        for dir in &dirs {
            let paths =
                pki::init(dir.path(), &PkiOptions::new("Example", "p@pec.example.it")).unwrap();
            let ca = std::fs::read(&paths.ca_cert).unwrap();
            let ca = X509::from_pem(&ca).unwrap().to_der().unwrap();
            let cert = std::fs::read(&paths.provider_cert).unwrap();
            let cert = X509::from_pem(&cert).unwrap().to_der().unwrap();
            let mut trust = TrustStore::new();
            trust.add_bytes(&ca).unwrap();
            cases.push(case(trust.clone(), &cert, std::slice::from_ref(&cert)));
            cases.push(case(trust, &cert, &[cert.clone(), ca.clone()]));
            // Trusting the provider certificate itself (PARTIAL_CHAIN).
            let mut trust = TrustStore::new();
            trust.add_bytes(&cert).unwrap();
            cases.push(case(trust, &cert, std::slice::from_ref(&cert)));
            anchors.push((ca, cert));
        }
        // Two CAs with one subject name: the issuer is ambiguous.
        let mut trust = TrustStore::new();
        trust.add_bytes(&anchors[0].0).unwrap();
        trust.add_bytes(&anchors[1].0).unwrap();
        cases.push(case(trust, &anchors[0].1, &[anchors[0].1.clone()]));
        // The other provider's CA is no anchor of this certificate.
        let mut trust = TrustStore::new();
        trust.add_bytes(&anchors[1].0).unwrap();
        cases.push(case(trust, &anchors[0].1, &[anchors[0].1.clone()]));
        cases
    }

    /// Times around every validity edge of the certificates involved, and far away.
    fn times(case: &Case) -> Vec<DateTime<Utc>> {
        let mut edges = vec![
            Utc.with_ymd_and_hms(1990, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(2014, 11, 20, 0, 0, 0).unwrap(),
            Utc::now(),
            Utc.with_ymd_and_hms(2099, 1, 1, 0, 0, 0).unwrap(),
        ];
        let certs = case
            .trust
            .certificates()
            .iter()
            .chain(
                case.untrusted
                    .iter()
                    .map(|c| c.to_owned())
                    .collect::<Vec<_>>()
                    .iter(),
            )
            .chain([&case.cert])
            .map(|c| [c.not_before(), c.not_after()].map(|t| unix_seconds(t).unwrap()))
            .collect::<Vec<_>>();
        for [nb, na] in certs {
            for edge in [nb, na] {
                for offset in -3..=3 {
                    let t = Utc.timestamp_opt(edge, 0).unwrap() + Duration::seconds(offset);
                    edges.push(t);
                }
            }
        }
        edges
    }

    #[test]
    fn derived_verdicts_match_full_checks() {
        let (mut derived_ok, mut derived_err) = (0, 0);
        for case in sample_cases().into_iter().chain(dev_cases()) {
            let store = case.trust.store(None).unwrap();
            let verdict = ChainVerdict::judge(&case.trust, &store, &case.cert, &case.untrusted);
            assert_eq!(
                verdict.trusted(),
                &case.trust.check_chain(&case.cert, &case.untrusted, None)
            );
            for t in times(&case) {
                if let Some(answer) = verdict.at(t) {
                    match answer {
                        Ok(()) => derived_ok += 1,
                        Err(_) => derived_err += 1,
                    }
                    let full = case.trust.check_chain(&case.cert, &case.untrusted, Some(t));
                    assert_eq!(answer, full, "{verdict:?} at {t}");
                }
            }
        }
        // Both kinds of derived answer were met (the edges are left to openssl).
        assert!(
            derived_ok > 10 && derived_err > 10,
            "{derived_ok} {derived_err}"
        );
    }
}
