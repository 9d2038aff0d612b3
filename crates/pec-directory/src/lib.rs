//! # pec-directory — the providers' index (IGPEC, PEC-SPEC §7)
