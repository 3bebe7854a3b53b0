//! Saved searches, per user or shared with everyone: what may be saved (the store's
//! `SavedSearches` keeps them).

use super::{Error, Users, now_micros};
pub use crate::model::user::Saved;

/// Longest name and URL kept.
const MAX_NAME: usize = 100;
const MAX_URL: usize = 8192;

impl Users {
    /// Saves a search; `url` must be a search page URL.
    pub fn save_search(
        &self,
        owner: &str,
        name: &str,
        url: &str,
        shared: bool,
    ) -> Result<i64, Error> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_NAME {
            return Err(Error::Invalid(format!(
                "a saved search needs a name of 1 to {MAX_NAME} characters"
            )));
        }
        if !(url == "/search" || url.starts_with("/search?")) || url.len() > MAX_URL {
            return Err(Error::Invalid(
                "only search page addresses can be saved".into(),
            ));
        }
        Ok(self
            .db
            .save_search(owner, name, url, shared, now_micros())?)
    }

    /// The user's own saved searches and the shared ones, by name.
    pub fn saved_searches(&self, user: &str) -> Result<Vec<Saved>, Error> {
        Ok(self.db.saved_searches(user)?)
    }

    /// Deletes a saved search: its owner may, and admins may delete shared ones. True when
    /// one was deleted.
    pub fn delete_search(&self, id: i64, user: &str, admin: bool) -> Result<bool, Error> {
        Ok(self.db.delete_search(id, user, admin)?)
    }
}
