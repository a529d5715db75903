//! The taxonomy: the fixed values of org fields (`type`, `country`), of user fields
//! (titles, specialities) and of session fields (types, estimated durations). Each
//! value is a [`Term`] `{code, name}`; writes store the code.
//!
//! Countries come from the `rust_iso3166` crate (every ISO 3166-1 entry, with its
//! English short name), never from a table typed here. The other lists are orgbase's
//! own, and adding a code is backwards compatible; removing one is not.
//! This module does not serve the lists (the server does) and stores nothing.

use serde::Serialize;

/// One value of a taxonomy: the stored `code` and its English `name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Term {
    /// What writes carry and reads return (`HOSPITAL`, `GBR`).
    pub code: &'static str,
    /// For people (`Hospital`, `United Kingdom of Great Britain and Northern Ireland`).
    pub name: &'static str,
}

const fn term(code: &'static str, name: &'static str) -> Term {
    Term { code, name }
}

/// The taxonomies that the API lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Taxonomy {
    /// `org/types`: what an org mainly is.
    OrgTypes,
    /// `countries`: ISO 3166-1 alpha-3 codes.
    Countries,
    /// `user/titles`: forms of address.
    UserTitles,
    /// `user/specialities`: clinical specialities (of people and of sessions).
    UserSpecialities,
    /// `session/types`: what a session is for.
    SessionTypes,
    /// `session/durations`: estimated durations, as ISO 8601 durations.
    SessionDurations,
}

impl Taxonomy {
    /// Every taxonomy.
    pub const ALL: [Self; 6] = [
        Self::OrgTypes,
        Self::Countries,
        Self::UserTitles,
        Self::UserSpecialities,
        Self::SessionTypes,
        Self::SessionDurations,
    ];

    /// Its path below `/taxonomy/`.
    pub const fn path(self) -> &'static str {
        match self {
            Self::OrgTypes => "org/types",
            Self::Countries => "countries",
            Self::UserTitles => "user/titles",
            Self::UserSpecialities => "user/specialities",
            Self::SessionTypes => "session/types",
            Self::SessionDurations => "session/durations",
        }
    }

    /// Its terms, in the order the API lists them.
    pub fn terms(self) -> Vec<Term> {
        match self {
            Self::OrgTypes => ORG_TYPES.to_vec(),
            Self::Countries => countries().collect(),
            Self::UserTitles => USER_TITLES.to_vec(),
            Self::UserSpecialities => SPECIALITIES.to_vec(),
            Self::SessionTypes => SESSION_TYPES.to_vec(),
            Self::SessionDurations => SESSION_DURATIONS.to_vec(),
        }
    }

    /// The term with this exact code.
    pub fn find(self, code: &str) -> Option<Term> {
        match self {
            Self::Countries => country(code),
            other => other.terms().into_iter().find(|t| t.code == code),
        }
    }
}

/// `org/types`.
pub const ORG_TYPES: &[Term] = &[
    term("HOSPITAL", "Hospital"),
    term("CLINIC", "Clinic"),
    term("UNIVERSITY", "University"),
    term("MEDICAL_SCHOOL", "Medical school"),
    term("MEDICAL_DEVICE_COMPANY", "Medical device company"),
    term("PHARMACEUTICAL_COMPANY", "Pharmaceutical company"),
    term("RESEARCH_INSTITUTE", "Research institute"),
    term("TRAINING_CENTRE", "Training centre"),
    term("PROFESSIONAL_SOCIETY", "Professional society"),
    term("GOVERNMENT_AGENCY", "Government agency"),
    term("NON_PROFIT", "Non-profit organisation"),
    term("OTHER", "Other"),
];

/// `user/titles`.
pub const USER_TITLES: &[Term] = &[
    term("DR", "Dr"),
    term("PROF", "Prof"),
    term("MR", "Mr"),
    term("MRS", "Mrs"),
    term("MS", "Ms"),
    term("MISS", "Miss"),
    term("MX", "Mx"),
];

/// `user/specialities`; a session's `speciality` is one of these too.
pub const SPECIALITIES: &[Term] = &[
    term("ANAESTHESIA", "Anaesthesia"),
    term("BARIATRIC_SURGERY", "Bariatric surgery"),
    term("BREAST_SURGERY", "Breast surgery"),
    term("CARDIOLOGY", "Cardiology"),
    term("CARDIOTHORACIC_SURGERY", "Cardiothoracic surgery"),
    term("COLORECTAL_SURGERY", "Colorectal surgery"),
    term("DENTISTRY", "Dentistry"),
    term("EMERGENCY_MEDICINE", "Emergency medicine"),
    term("ENDOCRINE_SURGERY", "Endocrine surgery"),
    term("GASTROENTEROLOGY", "Gastroenterology"),
    term("GENERAL_SURGERY", "General surgery"),
    term("GYNAECOLOGY", "Obstetrics and gynaecology"),
    term("HEPATOBILIARY_SURGERY", "Hepatobiliary surgery"),
    term("INTERVENTIONAL_RADIOLOGY", "Interventional radiology"),
    term("MAXILLOFACIAL_SURGERY", "Oral and maxillofacial surgery"),
    term("NEUROSURGERY", "Neurosurgery"),
    term("NURSING", "Nursing"),
    term("OPHTHALMOLOGY", "Ophthalmology"),
    term("ORTHOPAEDIC_SURGERY", "Orthopaedic surgery"),
    term("OTOLARYNGOLOGY", "Otolaryngology (ENT)"),
    term("PAEDIATRIC_SURGERY", "Paediatric surgery"),
    term("PLASTIC_SURGERY", "Plastic and reconstructive surgery"),
    term("SPINAL_SURGERY", "Spinal surgery"),
    term("TRANSPLANT_SURGERY", "Transplant surgery"),
    term("TRAUMA_SURGERY", "Trauma surgery"),
    term("UROLOGY", "Urology"),
    term("VASCULAR_SURGERY", "Vascular surgery"),
    term("VETERINARY_SURGERY", "Veterinary surgery"),
    term("OTHER", "Other"),
];

/// `session/types`.
pub const SESSION_TYPES: &[Term] = &[
    term("SURGERY", "Surgery"),
    term("PROCEDURE", "Procedure"),
    term("CONSULTATION", "Consultation"),
    term("TEACHING", "Teaching"),
    term("PROCTORING", "Proctoring"),
    term("MENTORING", "Mentoring"),
    term("CASE_REVIEW", "Case review"),
    term("MULTIDISCIPLINARY_MEETING", "Multidisciplinary team meeting"),
    term("PRODUCT_DEMONSTRATION", "Product demonstration"),
    term("OTHER", "Other"),
];

/// `session/durations`: ISO 8601 durations.
pub const SESSION_DURATIONS: &[Term] = &[
    term("PT15M", "15 minutes"),
    term("PT30M", "30 minutes"),
    term("PT45M", "45 minutes"),
    term("PT1H", "1 hour"),
    term("PT1H30M", "1 hour 30 minutes"),
    term("PT2H", "2 hours"),
    term("PT3H", "3 hours"),
    term("PT4H", "4 hours"),
    term("PT6H", "6 hours"),
    term("PT8H", "8 hours"),
    term("PT12H", "12 hours"),
];

/// Every ISO 3166-1 country as `{alpha-3 code, English short name}`, in the crate's
/// order (by name).
pub fn countries() -> impl Iterator<Item = Term> {
    rust_iso3166::ALL.iter().map(|c| Term { code: c.alpha3, name: c.name })
}

/// The country with this ISO 3166-1 alpha-3 code, exact and uppercase (`GBR`).
pub fn country(code: &str) -> Option<Term> {
    rust_iso3166::from_alpha3(code).map(|c| Term { code: c.alpha3, name: c.name })
}

/// The org type with this exact code (`HOSPITAL`).
pub fn org_type(code: &str) -> Option<Term> {
    Taxonomy::OrgTypes.find(code)
}

/// The user title with this exact code (`DR`).
pub fn user_title(code: &str) -> Option<Term> {
    Taxonomy::UserTitles.find(code)
}

/// The speciality with this exact code (`NEUROSURGERY`).
pub fn speciality(code: &str) -> Option<Term> {
    Taxonomy::UserSpecialities.find(code)
}

/// The session type with this exact code (`SURGERY`).
pub fn session_type(code: &str) -> Option<Term> {
    Taxonomy::SessionTypes.find(code)
}

/// The estimated session duration with this exact code (`PT1H30M`).
pub fn session_duration(code: &str) -> Option<Term> {
    Taxonomy::SessionDurations.find(code)
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn countries_are_every_iso_3166_1_entry_of_the_crate() {
        let all: Vec<Term> = countries().collect();
        assert_eq!(all.len(), rust_iso3166::ALL.len());
        assert!(all.len() >= 249, "{}", all.len());
        let codes: HashSet<&str> = all.iter().map(|t| t.code).collect();
        assert_eq!(codes.len(), all.len(), "alpha-3 codes are unique");
        assert!(all.iter().all(|t| t.code.len() == 3 && t.code.bytes().all(|b| b.is_ascii_uppercase())));
        assert_eq!(country("GBR").map(|t| t.code), Some("GBR"));
        assert_eq!(country("FRA").map(|t| t.name), Some("France"));
    }

    #[test]
    fn codes_match_exactly() {
        for bad in ["gbr", "GB", "GBRR", "", " GBR"] {
            assert_eq!(country(bad), None, "{bad:?}");
        }
        assert!(org_type("HOSPITAL").is_some());
        assert!(org_type("MEDICAL_DEVICE_COMPANY").is_some());
        assert_eq!(org_type("hospital"), None);
        assert!(user_title("DR").is_some());
        assert!(speciality("NEUROSURGERY").is_some());
        assert!(session_type("SURGERY").is_some());
        assert!(session_duration("PT1H30M").is_some());
        assert_eq!(session_duration("90"), None);
    }

    #[test]
    fn every_list_has_unique_upper_case_codes() {
        for taxonomy in Taxonomy::ALL {
            let terms = taxonomy.terms();
            assert!(!terms.is_empty(), "{taxonomy:?}");
            let codes: HashSet<&str> = terms.iter().map(|t| t.code).collect();
            assert_eq!(codes.len(), terms.len(), "{taxonomy:?}");
            for t in &terms {
                assert!(!t.name.is_empty());
                assert!(t.code.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'), "{t:?}");
                assert_eq!(taxonomy.find(t.code), Some(*t));
            }
        }
    }
}
