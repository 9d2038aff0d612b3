//! The daticert writer: UTF-8, no DOCTYPE, the element order of the DTD (PEC-SPEC §5.1).

use super::{Daticert, TipoDestinatario};
use quick_xml::escape::escape;
use std::fmt::Write as _;

/// Why a daticert cannot be written: we only ever emit values the DTD allows.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WriteError {
    /// An enumerated attribute holds a value outside the DTD.
    #[error("daticert {attribute} value {value:?} is not in the DTD")]
    UnknownValue {
        /// The attribute, e.g. `postacert/@tipo`.
        attribute: &'static str,
        /// The offending value.
        value: String,
    },
    /// `<intestazione>` needs at least one `<destinatari>`.
    #[error("daticert needs at least one destinatari")]
    NoDestinatari,
}

impl Daticert {
    /// Serialises to the bytes of `daticert.xml`.
    pub fn to_xml(&self) -> Result<String, WriteError> {
        check(self.tipo.is_known(), "postacert/@tipo", self.tipo.as_str())?;
        check(
            self.errore.is_known(),
            "postacert/@errore",
            self.errore.as_str(),
        )?;
        if self.intestazione.destinatari.is_empty() {
            return Err(WriteError::NoDestinatari);
        }
        let i = &self.intestazione;
        let d = &self.dati;
        let mut x = String::with_capacity(1024);
        x.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            x,
            "<postacert tipo=\"{}\" errore=\"{}\">",
            self.tipo, self.errore
        );
        x.push_str("  <intestazione>\n");
        element(&mut x, 4, "mittente", &i.mittente);
        for dest in &i.destinatari {
            check(
                dest.tipo.is_known(),
                "destinatari/@tipo",
                dest.tipo.as_str(),
            )?;
            let tipo = match dest.tipo {
                TipoDestinatario::Esterno => "esterno",
                _ => "certificato",
            };
            let _ = writeln!(
                x,
                "    <destinatari tipo=\"{tipo}\">{}</destinatari>",
                escape(dest.indirizzo.as_str())
            );
        }
        element(&mut x, 4, "risposte", &i.risposte);
        if let Some(o) = &i.oggetto {
            element(&mut x, 4, "oggetto", o);
        }
        x.push_str("  </intestazione>\n  <dati>\n");
        element(&mut x, 4, "gestore-emittente", &d.gestore_emittente);
        let _ = writeln!(
            x,
            "    <data zona=\"{}\">\n      <giorno>{}</giorno>\n      <ora>{}</ora>\n    </data>",
            d.data.zona(),
            d.data.giorno(),
            d.data.ora()
        );
        element(&mut x, 4, "identificativo", &d.identificativo);
        if let Some(m) = &d.msgid {
            element(&mut x, 4, "msgid", m);
        }
        if let Some(r) = &d.ricevuta {
            check(r.is_known(), "ricevuta/@tipo", r.as_str())?;
            let _ = writeln!(x, "    <ricevuta tipo=\"{r}\" />");
        }
        if let Some(c) = &d.consegna {
            element(&mut x, 4, "consegna", c);
        }
        for r in &d.ricezione {
            element(&mut x, 4, "ricezione", r);
        }
        if let Some(e) = &d.errore_esteso {
            element(&mut x, 4, "errore-esteso", e);
        }
        x.push_str("  </dati>\n</postacert>\n");
        Ok(x)
    }
}

fn check(ok: bool, attribute: &'static str, value: &str) -> Result<(), WriteError> {
    if ok {
        Ok(())
    } else {
        Err(WriteError::UnknownValue {
            attribute,
            value: value.to_string(),
        })
    }
}

fn element(x: &mut String, indent: usize, name: &str, text: &str) {
    let _ = writeln!(
        x,
        "{:indent$}<{name}>{}</{name}>",
        "",
        escape(strip_controls(text).as_str())
    );
}

/// XML 1.0 forbids most C0 controls even as character references; drop them.
fn strip_controls(s: &str) -> String {
    s.chars()
        .filter(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
        .collect()
}
