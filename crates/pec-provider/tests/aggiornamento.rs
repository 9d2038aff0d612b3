//! An upgrade with items in flight loses nothing: queue items written by the previous version
//! (hand-made payloads, byte for byte as it wrote them: a JSON line, then the bytes) are run
//! by this version's worker to the same outcome.
//!
//! No sockets: the relay item goes to a domain without a route (a permanent failure, so the
//! sender gets the avviso di mancata consegna), the others touch only the store.

mod common;

use common::{gestore, kinds, parti};
use pec_core::accesso::{self, Esito, Identificativi, Limiti};
use pec_core::consegna::BustaRicevuta;
use pec_core::daticert::TipoDestinatario;
use pec_core::{MessageKind, RiferimentoTemporale};
use pec_smime::Signer;
use pec_store::{Batch, NewQueueItem, Operation, QueueStatus, Store};
use std::time::Duration;

const MITTENTE: &str = "mittente@pec.a.test";
const DEST: &str = "dest@pec.a.test";
const REMOTO: &str = "r@pec.b.test";
const REMOTO_12H: &str = "r2@pec.b.test";

/// A signed busta di trasporto from MITTENTE to DEST, REMOTO and REMOTO_12H, as the access
/// point of the previous version queued it; its PEC msgid and daticert.xml.
fn busta(signer: &Signer) -> (Vec<u8>, String, String) {
    let provider = signer.provider().unwrap();
    let raw = format!(
        "From: {MITTENTE}\r\nTo: {DEST}, {REMOTO}, {REMOTO_12H}\r\nSubject: prova\r\n\
         Message-ID: <orig.1@pec.a.test>\r\nDate: Thu, 03 Dec 2026 10:00:00 +0100\r\n\r\nciao\r\n"
    );
    let rcpt = vec![DEST.to_string(), REMOTO.to_string(), REMOTO_12H.to_string()];
    let classifica = |_: &str| TipoDestinatario::Certificato;
    let punto = accesso::PuntoAccesso {
        provider: &provider,
        limiti: Limiti::MINIMI,
        classifica: &classifica,
    };
    let invio = accesso::Invio {
        casella: MITTENTE,
        mail_from: MITTENTE,
        rcpt_to: &rcpt,
        raw: raw.as_bytes(),
        virus: None,
    };
    let id = "opec-gestore.20261203100000.aabbcc.1@pec.a.test";
    let ids = Identificativi {
        identificativo: id,
        ricevuta: "opec-gestore.20261203100000.aabbcc.2@pec.a.test",
    };
    let data = RiferimentoTemporale::from_utc(chrono::Utc::now());
    let Esito::Accettato(a) = accesso::punto_accesso(&invio, &punto, data, &ids).unwrap() else {
        panic!("not accepted")
    };
    let busta = signer.sign(&a.busta).unwrap();
    let daticert = BustaRicevuta::leggi(&busta)
        .unwrap()
        .daticert
        .to_xml()
        .unwrap();
    (busta, id.to_string(), daticert)
}

fn legacy(key: String, kind: &str, head: String, body: &[u8]) -> Operation {
    let mut payload = head.into_bytes();
    payload.push(b'\n');
    payload.extend_from_slice(body);
    Operation::Enqueue(NewQueueItem {
        key,
        kind: kind.into(),
        payload,
        body: None,
        due: chrono::Utc::now(),
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_items_of_the_previous_version_run_after_the_upgrade() {
    let dir = tempfile::tempdir().unwrap();
    let (signer, store) = parti(dir.path(), &[MITTENTE, DEST]).await;
    let (busta, id, daticert) = busta(&signer);
    let items = [
        legacy(
            format!("deliver:{id}:{DEST}"),
            "deliver",
            format!(r#"{{"recipient":"{DEST}","sender":"{MITTENTE}","identificativo":"{id}"}}"#),
            &busta,
        ),
        legacy(
            format!("relay:{id}:{REMOTO}"),
            "relay",
            format!(
                r#"{{"recipient":"{REMOTO}","mail_from":"{MITTENTE}","identificativo":"{id}","busta":true,"accepted_ms":{}}}"#,
                chrono::Utc::now().timestamp_millis()
            ),
            &busta,
        ),
        legacy(
            format!("scadenza:12h:{id}:{REMOTO_12H}"),
            "scadenza",
            format!(
                r#"{{"recipient":"{REMOTO_12H}","sender":"{MITTENTE}","identificativo":"{id}","scadenza":"12h"}}"#
            ),
            daticert.as_bytes(),
        ),
    ];
    let keys: Vec<String> = items
        .iter()
        .map(|o| match o {
            Operation::Enqueue(q) => q.key.clone(),
            _ => unreachable!(),
        })
        .collect();
    let mut batch = Batch::new();
    for op in items {
        batch.push(op);
    }
    store.commit(batch).await.unwrap();

    let gestore = gestore(signer, &store);
    let (stop_tx, stop) = tokio::sync::watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    gestore.avvia(&mut tasks, &stop);

    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut states = Vec::new();
    while std::time::Instant::now() < deadline {
        states.clear();
        for k in &keys {
            states.push(store.queue_item(k).await.unwrap().unwrap().status);
        }
        if states.iter().all(|s| *s == QueueStatus::Done) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = stop_tx.send(true);
    while tasks.join_next().await.is_some() {}
    assert_eq!(states, vec![QueueStatus::Done; 3], "{keys:?}");

    assert_eq!(
        kinds(&store, DEST, "INBOX").await,
        vec![MessageKind::BustaTrasporto]
    );
    assert_eq!(
        kinds(&store, MITTENTE, "INBOX").await,
        vec![
            MessageKind::ConsegnaCompleta,
            MessageKind::MancataConsegna,
            MessageKind::Preavviso12h,
        ]
    );
}
