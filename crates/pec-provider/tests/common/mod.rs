//! A provider of `pec.a.test` on a temporary folder, without sockets: the dev PKI, a store,
//! the settings, and the points built by `Gestore::new`.

use pec_core::accesso::Limiti;
use pec_provider::clock::Clock;
use pec_provider::{FonteIndice, Gestore, Impostazioni};
use pec_smime::pki::{self, PkiOptions};
use pec_smime::Signer;
use pec_store::{Address, SqliteStore, Store};
use std::sync::Arc;
use std::time::Duration;

pub const SERVIZIO: &str = "posta-certificata@pec.a.test";

/// The settings of a provider of `pec.a.test` that relays nowhere (no route, no MX).
pub fn impostazioni() -> Impostazioni {
    Impostazioni {
        domini: vec!["pec.a.test".into()],
        servizio: SERVIZIO.into(),
        limiti: Limiti::MINIMI,
        politica: Default::default(),
        antivirus: None,
        relay: pec_smtp::relay::RelayConfig {
            routes: Default::default(),
            mx: false,
            mx_port: 25,
            dns: Vec::new(),
            tls_roots: Vec::new(),
            timeout: Duration::from_secs(5),
        },
        helo: "localhost".into(),
        indice: FonteIndice::default(),
        accessi: pec_listen::ThrottleLimits {
            per_ip: 10,
            per_box: 10,
            window: Duration::from_secs(900),
            block: Duration::from_secs(900),
        },
    }
}

/// The dev PKI's signer and an open store in `dir`, with `boxes` (password `pw`).
pub async fn parti(dir: &std::path::Path, boxes: &[&str]) -> (Arc<Signer>, SqliteStore) {
    let pki_dir = dir.join("pki");
    pki::init(&pki_dir, &PkiOptions::new("Gestore A S.p.A.", SERVIZIO)).unwrap();
    let signer = Arc::new(Signer::from_pki_dir(&pki_dir).unwrap());
    let store = SqliteStore::open(&dir.join("data")).await.unwrap();
    for a in boxes {
        store
            .add_mailbox(&Address::parse(a).unwrap(), "pw", 0)
            .await
            .unwrap();
    }
    (signer, store)
}

/// The points of a provider on `store`, with the event trail off.
pub fn gestore(signer: Arc<Signer>, store: &SqliteStore) -> Gestore {
    let g = Gestore::new(
        &impostazioni(),
        store.clone(),
        signer,
        Arc::new(Clock::system()),
    )
    .unwrap();
    g.registro().traccia(false);
    g
}

/// The kinds of the messages in a box folder, sorted by name.
pub async fn kinds(
    store: &SqliteStore,
    casella: &str,
    cartella: &str,
) -> Vec<pec_core::MessageKind> {
    let a = Address::parse(casella).unwrap();
    let mut out = Vec::new();
    for m in store.list_messages(&a, cartella).await.unwrap() {
        let f = store
            .fetch_message(&a, cartella, m.uid)
            .await
            .unwrap()
            .unwrap();
        out.push(pec_core::inspect::inspect(&f.bytes).unwrap().kind);
    }
    out.sort_by_key(|k| k.name());
    out
}
