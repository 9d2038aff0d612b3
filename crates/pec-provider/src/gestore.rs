//! A provider assembled: the points built from the settings, the store, the signer and the
//! clock, each holding only the parts it uses, and the background tasks they need.

use crate::caselle::Caselle;
use crate::clock::Clock;
use crate::comune::{Contatori, Firmatario, Parti, Registro};
use crate::consegna::PuntoConsegna;
use crate::domini::Domini;
use crate::errore::{Contesto as _, Risultato as Result};
use crate::ids::Ids;
use crate::impostazioni::Impostazioni;
use crate::indice::Directory;
use crate::inoltro::Inoltro;
use crate::lavoratore::Lavoratore;
use crate::quarantena::Quarantena;
use crate::ricezione::PuntoRicezione;
use crate::scadenze::Scadenze;
use crate::virus::Scansione;
use crate::{accesso::PuntoAccesso, indice, quarantena};
use pec_core::virus::CONSERVAZIONE_MESI;
use pec_smime::Signer;
use pec_smtp::relay::Relay;
use pec_store::SqliteStore;
use std::sync::Arc;
use tokio::sync::{watch, Notify};
use tokio::task::JoinSet;

/// One provider: its points and what they share.
pub struct Gestore {
    accesso: Arc<PuntoAccesso>,
    ricezione: Arc<PuntoRicezione>,
    caselle: Arc<Caselle>,
    lavoratore: Arc<Lavoratore>,
    quarantena: Arc<Quarantena>,
    parti: Parti,
}

impl Gestore {
    /// Builds every point. The signer's certificate names the provider; `clock` is the
    /// system's, or an adjustable one in tests and the demo.
    pub fn new(
        imp: &Impostazioni,
        store: SqliteStore,
        signer: Arc<Signer>,
        clock: Arc<Clock>,
    ) -> Result<Self> {
        let provider = signer.provider().ctx("the signing certificate")?;
        let ids = Arc::new(Ids::new(provider.dominio()));
        let parti = Parti {
            registro: Registro::default(),
            store,
            firma: Firmatario::new(signer),
            ids,
            provider,
            domini: Domini::new(&imp.domini, &imp.servizio),
            indice: Arc::new(Directory::open(&imp.indice)?),
            clock,
            contatori: Arc::new(Contatori::default()),
            lavoro: Arc::new(Notify::new()),
        };
        let mesi = imp
            .antivirus
            .as_ref()
            .map_or(CONSERVAZIONE_MESI, |a| a.quarantine_months);
        let quarantena = Arc::new(Quarantena::new(
            parti.store.clone(),
            parti.clock.clone(),
            &imp.servizio,
            mesi,
        )?);
        let scansione = Arc::new(Scansione::new(imp.antivirus.as_ref()));
        let consegna = Arc::new(PuntoConsegna::new(&parti));
        let scadenze = Arc::new(Scadenze::new(&parti));
        let relay = Relay::new(imp.relay.clone(), imp.helo.clone())?;
        let inoltro = Arc::new(Inoltro::new(&parti, relay));
        let accesso = Arc::new(PuntoAccesso::new(&parti, imp.limiti, scansione.clone()));
        let ricezione = Arc::new(PuntoRicezione::new(
            &parti,
            imp.politica,
            scansione,
            scadenze.clone(),
        ));
        let caselle = Arc::new(Caselle::new(
            parti.store.clone(),
            imp.accessi,
            quarantena.clone(),
            &imp.servizio,
        ));
        let lavoratore = Arc::new(Lavoratore::new(&parti, consegna, inoltro, scadenze));
        Ok(Self {
            accesso,
            ricezione,
            caselle,
            lavoratore,
            quarantena,
            parti,
        })
    }

    /// Starts the background work into `tasks` until `stop`: the queue worker, the quarantine
    /// purge and the index file watcher.
    pub fn avvia(&self, tasks: &mut JoinSet<()>, stop: &watch::Receiver<bool>) {
        tasks.spawn(indice::aggiorna(self.parti.indice.clone(), stop.clone()));
        tasks.spawn(quarantena::run(self.quarantena.clone(), stop.clone()));
        tasks.spawn(self.lavoratore.clone().run(stop.clone()));
    }

    /// The access point.
    pub fn accesso(&self) -> Arc<PuntoAccesso> {
        self.accesso.clone()
    }

    /// The receiving point.
    pub fn ricezione(&self) -> Arc<PuntoRicezione> {
        self.ricezione.clone()
    }

    /// The boxes, as mail clients reach them.
    pub fn caselle(&self) -> Arc<Caselle> {
        self.caselle.clone()
    }

    /// The store.
    pub fn store(&self) -> &SqliteStore {
        &self.parti.store
    }

    /// The commits and the trail of committed events.
    pub fn registro(&self) -> &Registro {
        &self.parti.registro
    }

    /// Work finished since start (the bench's finish lines).
    pub fn contatori(&self) -> &Contatori {
        &self.parti.contatori
    }

    /// Our signing identity.
    pub fn firma(&self) -> &Firmatario {
        &self.parti.firma
    }

    /// The provider's clock.
    pub fn clock(&self) -> Arc<Clock> {
        self.parti.clock.clone()
    }

    /// The providers' index in force.
    pub fn indice(&self) -> Arc<Directory> {
        self.parti.indice.clone()
    }

    /// Wakes the worker (after the clock moved, or work was queued from outside).
    pub fn lavoro(&self) -> Arc<Notify> {
        self.parti.lavoro.clone()
    }
}
