//! Saved searches, per user or shared with everyone, in `users.db`.

use super::{Error, Users, now_micros};
use rusqlite::params;

/// A saved search.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Saved {
    /// Its id.
    pub id: i64,
    /// Who saved it.
    pub owner: String,
    /// Its name.
    pub name: String,
    /// The search page URL (path and query) it opens.
    pub url: String,
    /// Everyone sees it.
    pub shared: bool,
}

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
        let id = self.with(|c| {
            c.execute(
                "INSERT INTO saved_searches (owner, name, url, shared, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![owner, name, url, shared, now_micros()],
            )?;
            Ok(c.last_insert_rowid())
        })?;
        Ok(id)
    }

    /// The user's own saved searches and the shared ones, by name.
    pub fn saved_searches(&self, user: &str) -> Result<Vec<Saved>, Error> {
        self.with(|c| {
            let mut st = c.prepare(
                "SELECT id, owner, name, url, shared FROM saved_searches WHERE owner = ?1 OR shared = 1
                 ORDER BY name COLLATE NOCASE, id",
            )?;
            st.query_map([user], |r| {
                Ok(Saved {
                    id: r.get(0)?,
                    owner: r.get(1)?,
                    name: r.get(2)?,
                    url: r.get(3)?,
                    shared: r.get(4)?,
                })
            })?
            .collect()
        })
    }

    /// Deletes a saved search: its owner may, and admins may delete shared ones. True when
    /// one was deleted.
    pub fn delete_search(&self, id: i64, user: &str, admin: bool) -> Result<bool, Error> {
        let n = self.with(|c| {
            c.execute(
                "DELETE FROM saved_searches WHERE id = ?1 AND (owner = ?2 OR (?3 AND shared = 1))",
                params![id, user, admin],
            )
        })?;
        Ok(n > 0)
    }
}
