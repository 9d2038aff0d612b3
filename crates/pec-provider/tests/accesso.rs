//! The access point as a library, without sockets: what a webmail or an API calls.

mod common;

use common::{gestore, kinds, parti};
use pec_core::accesso::Motivo;
use pec_core::MessageKind;
use pec_provider::accesso::{Esito, Invio};

const MITTENTE: &str = "mittente@pec.a.test";
const DEST: &str = "dest@pec.a.test";

fn invio(headers: &str) -> Invio {
    Invio {
        casella: MITTENTE.into(),
        mail_from: MITTENTE.into(),
        rcpt_to: vec![DEST.into()],
        data: format!(
            "From: {MITTENTE}\r\nTo: {DEST}\r\n{headers}Subject: prova\r\n\
             Message-ID: <m.1@pec.a.test>\r\n\r\nciao\r\n"
        )
        .into_bytes(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_submission_is_accepted_and_delivered_or_refused_with_its_notice() {
    let dir = tempfile::tempdir().unwrap();
    let (signer, store) = parti(dir.path(), &[MITTENTE, DEST]).await;
    let g = gestore(signer, &store);
    let accesso = g.accesso();

    let Esito::Accettato { identificativo } = accesso.invia(invio("")).await.unwrap() else {
        panic!("not accepted")
    };
    assert!(identificativo.ends_with("@pec.a.test"), "{identificativo}");
    // Our own box: delivered in the acceptance's transaction, no worker needed.
    assert_eq!(
        kinds(&store, DEST, "INBOX").await,
        vec![MessageKind::BustaTrasporto]
    );
    assert_eq!(
        kinds(&store, MITTENTE, "INBOX").await,
        vec![MessageKind::Accettazione, MessageKind::ConsegnaCompleta]
    );
    assert_eq!(
        kinds(&store, MITTENTE, "Sent").await,
        vec![MessageKind::BustaTrasporto]
    );

    // A Bcc is refused with the avviso di non accettazione, and nothing is delivered.
    let esito = accesso.invia(invio("Bcc: x@pec.a.test\r\n")).await.unwrap();
    assert!(
        matches!(
            &esito,
            Esito::NonAccettato {
                motivo: Motivo::BccPresente,
                ..
            }
        ),
        "{esito:?}"
    );
    assert_eq!(kinds(&store, DEST, "INBOX").await.len(), 1);
    assert_eq!(
        kinds(&store, MITTENTE, "INBOX").await,
        vec![
            MessageKind::Accettazione,
            MessageKind::ConsegnaCompleta,
            MessageKind::NonAccettazione,
        ]
    );
}
