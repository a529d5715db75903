//! The work that several entry points share: the API's route modules, the public
//! pages and the CLI. Route modules never call each other; what two of them need
//! lives here, below them.
//!
//! Everything here speaks in domain types and [`crate::fault::Fault`]; it parses no
//! request and shapes no response (that is the routes' and pages' part). Mail
//! wording is not here either: it lives in the templates of [`crate::mail`].

pub mod account_links;
pub mod apps;
pub mod invitations;
pub mod logins;
pub mod orgs;
pub mod passwords;
pub mod registration;
