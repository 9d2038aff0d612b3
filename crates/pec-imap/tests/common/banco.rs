//! The backend a test suite runs against: the in-memory reference, or (with the `store`
//! feature and `PEC_IMAP_BACKEND=store`, as scripts/test runs the suites a second time) the
//! real store with the same boxes.

#![allow(dead_code)]

use pec_imap::memory::MemoryBackend;
use pec_imap::{Backend, FolderSnapshot};
use std::sync::Arc;

pub enum Banco {
    Memoria(Arc<MemoryBackend>),
    #[cfg(feature = "store")]
    Store(
        Arc<pec_imap::store::StoreBackend<store::Password>>,
        pec_store::SqliteStore,
        tempfile::TempDir,
    ),
}

impl Banco {
    /// The backend `PEC_IMAP_BACKEND` names, with `boxes` (address, password).
    pub async fn new(boxes: &[(&str, &str)]) -> Self {
        #[cfg(feature = "store")]
        if std::env::var("PEC_IMAP_BACKEND").as_deref() == Ok("store") {
            return store::banco(boxes).await;
        }
        let backend = Arc::new(MemoryBackend::new());
        for (user, password) in boxes {
            backend.add_box(user, password);
        }
        Banco::Memoria(backend)
    }

    /// Stores `bytes` in `folder` of `user`, as the delivery point does; its UID.
    pub async fn deliver(&self, user: &str, folder: &str, bytes: &[u8]) -> u32 {
        match self {
            Banco::Memoria(b) => b.deliver(user, folder, bytes).expect("deliver"),
            #[cfg(feature = "store")]
            Banco::Store(_, s, _) => store::deliver(s, user, folder, bytes).await,
        }
    }

    /// The folder as the server sees it.
    pub async fn snapshot(&self, user: &str, folder: &str) -> FolderSnapshot {
        match self {
            Banco::Memoria(b) => b.snapshot(user, folder).await,
            #[cfg(feature = "store")]
            Banco::Store(b, _, _) => b.snapshot(user, folder).await,
        }
        .expect("snapshot")
    }

    /// Expunges `uids` of `folder` (another session's EXPUNGE).
    pub async fn expunge(&self, user: &str, folder: &str, uids: &[u32]) -> Vec<u32> {
        match self {
            Banco::Memoria(b) => b.expunge(user, folder, uids).await,
            #[cfg(feature = "store")]
            Banco::Store(b, _, _) => b.expunge(user, folder, uids).await,
        }
        .expect("expunge")
    }

    /// One message's bytes.
    pub async fn fetch(&self, user: &str, folder: &str, uid: u32) -> Option<Vec<u8>> {
        match self {
            Banco::Memoria(b) => b.fetch(user, folder, uid).await,
            #[cfg(feature = "store")]
            Banco::Store(b, _, _) => b.fetch(user, folder, uid).await,
        }
        .expect("fetch")
    }
}

/// Runs `$serve(listener, tls, config, backend, shutdown)` on whichever backend `$banco` is.
#[macro_export]
macro_rules! spawn_on {
    ($banco:expr, |$b:ident| $body:expr) => {
        match $banco {
            $crate::banco::Banco::Memoria(b) => {
                let $b = b.clone();
                tokio::spawn($body)
            }
            #[cfg(feature = "store")]
            $crate::banco::Banco::Store(b, _, _) => {
                let $b = b.clone();
                tokio::spawn($body)
            }
        }
    };
}

/// The real store behind a suite.
#[cfg(feature = "store")]
mod store {
    use super::Banco;
    use pec_imap::store::{Guardia, StoreBackend};
    use pec_imap::BackendError;
    use pec_store::{Address, Batch, NewMessage, Operation, Outcome, SqliteStore, Store};
    use std::sync::Arc;

    /// Logins checked against the store's passwords; every folder writable.
    pub struct Password(pub SqliteStore);

    impl Guardia for Password {
        async fn accedi(
            &self,
            _service: &'static str,
            user: &str,
            password: &str,
            _peer: std::net::IpAddr,
        ) -> Result<Option<String>, BackendError> {
            match self.0.verify_password(user, password).await {
                Ok(true) => Ok(Some(user.trim().to_ascii_lowercase())),
                Ok(false) => Ok(None),
                Err(e) => Err(BackendError::Temporary(e.to_string())),
            }
        }

        fn sola_lettura(&self, _mailbox: &str, _folder: &str) -> Option<String> {
            None
        }
    }

    pub async fn banco(boxes: &[(&str, &str)]) -> Banco {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SqliteStore::open(&dir.path().join("data"))
            .await
            .expect("store");
        for (user, password) in boxes {
            store
                .add_mailbox(&Address::parse(user).expect("address"), password, 0)
                .await
                .expect("box");
        }
        let backend = StoreBackend::new(store.clone(), Password(store.clone()));
        Banco::Store(Arc::new(backend), store, dir)
    }

    pub async fn deliver(store: &SqliteStore, user: &str, folder: &str, bytes: &[u8]) -> u32 {
        let a = Address::parse(user).expect("address");
        let m = NewMessage::append(a, folder, bytes.to_vec(), Vec::new(), chrono::Utc::now());
        let receipt = store
            .commit(Batch::new().with(Operation::PutMessage(m)))
            .await
            .expect("deliver");
        match receipt.outcomes.first() {
            Some(Outcome::MessageStored { uid, .. }) => *uid,
            other => panic!("not stored: {other:?}"),
        }
    }
}
