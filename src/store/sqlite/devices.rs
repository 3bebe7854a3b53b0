//! `poll.db`: the SQLite side of [`DeviceBook`]. Its own file, so the poller's writes never
//! wait on the event store's writer, and a CLI beside `serve` (WAL, busy timeout) can add and
//! remove devices while it runs.

use super::db_err;
use crate::store::Error;
use crate::store::devices::{DeviceBook, DeviceState, StoredDevice};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::{Path, PathBuf};

/// `poll.db` of one data directory.
pub struct SqliteDevices {
    conn: Connection,
    path: PathBuf,
}

impl SqliteDevices {
    /// Opens (creating or migrating) `<data_dir>/poll.db`.
    pub fn open(data_dir: &Path) -> Result<SqliteDevices, Error> {
        std::fs::create_dir_all(data_dir).map_err(|e| Error::Io {
            path: data_dir.display().to_string(),
            source: e,
        })?;
        let path = data_dir.join("poll.db");
        let mut conn = Connection::open(&path).map_err(db_err(&path))?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(db_err(&path))?;
        conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;")
            .map_err(db_err(&path))?;
        super::migrate::apply(&mut conn, &path, super::migrate::POLL)?;
        Ok(SqliteDevices { conn, path })
    }

    fn bump(&self) -> Result<(), Error> {
        self.conn
            .execute(
                "UPDATE meta SET value = value + 1 WHERE key = 'revision'",
                [],
            )
            .map(|_| ())
            .map_err(db_err(&self.path))
    }
}

impl DeviceBook for SqliteDevices {
    fn devices(&self) -> Result<Vec<StoredDevice>, Error> {
        let e = db_err(&self.path);
        let mut q = self
            .conn
            .prepare("SELECT name, definition, changed_by, changed_at FROM devices ORDER BY name")
            .map_err(&e)?;
        q.query_map([], |r| {
            Ok(StoredDevice {
                name: r.get(0)?,
                definition: r.get(1)?,
                changed_by: r.get(2)?,
                changed_at: r.get(3)?,
            })
        })
        .and_then(Iterator::collect)
        .map_err(&e)
    }

    fn put_device(&mut self, d: &StoredDevice, replace: bool) -> Result<bool, Error> {
        let sql = if replace {
            "INSERT INTO devices (name, definition, changed_by, changed_at) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT(name) DO UPDATE SET definition = ?2, changed_by = ?3, changed_at = ?4"
        } else {
            "INSERT OR IGNORE INTO devices (name, definition, changed_by, changed_at) VALUES (?1, ?2, ?3, ?4)"
        };
        let n = self
            .conn
            .execute(
                sql,
                params![d.name, d.definition, d.changed_by, d.changed_at],
            )
            .map_err(db_err(&self.path))?;
        if n > 0 {
            self.bump()?;
        }
        Ok(n > 0)
    }

    fn remove_device(&mut self, name: &str) -> Result<bool, Error> {
        let e = db_err(&self.path);
        let n = self
            .conn
            .execute("DELETE FROM devices WHERE name = ?1", [name])
            .map_err(&e)?;
        self.conn
            .execute("DELETE FROM device_state WHERE name = ?1", [name])
            .map_err(&e)?;
        if n > 0 {
            self.bump()?;
        }
        Ok(n > 0)
    }

    fn revision(&self) -> Result<i64, Error> {
        self.conn
            .query_row("SELECT value FROM meta WHERE key = 'revision'", [], |r| {
                r.get(0)
            })
            .optional()
            .map(Option::unwrap_or_default)
            .map_err(db_err(&self.path))
    }

    fn set_state(&mut self, s: &DeviceState) -> Result<(), Error> {
        let json = serde_json::to_string(s).unwrap_or_default();
        self.conn
            .execute(
                "INSERT INTO device_state (name, state) VALUES (?1, ?2)
                 ON CONFLICT(name) DO UPDATE SET state = ?2",
                params![s.name, json],
            )
            .map(|_| ())
            .map_err(db_err(&self.path))
    }

    fn states(&self) -> Result<Vec<DeviceState>, Error> {
        let e = db_err(&self.path);
        let mut q = self
            .conn
            .prepare("SELECT name, state FROM device_state ORDER BY name")
            .map_err(&e)?;
        let rows: Vec<(String, String)> = q
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(Iterator::collect)
            .map_err(&e)?;
        Ok(rows
            .into_iter()
            .map(|(name, json)| {
                let mut s: DeviceState = serde_json::from_str(&json).unwrap_or_default();
                s.name = name;
                s
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_are_added_replaced_and_removed_with_a_revision() {
        let d = tempfile::tempdir().unwrap();
        let mut b = SqliteDevices::open(d.path()).unwrap();
        let r0 = b.revision().unwrap();
        let dev = StoredDevice {
            name: "sw1".into(),
            definition: "{}".into(),
            changed_by: "cli".into(),
            changed_at: 1,
        };
        assert!(b.put_device(&dev, false).unwrap());
        assert!(!b.put_device(&dev, false).unwrap(), "name taken");
        assert!(b.put_device(&dev, true).unwrap());
        assert!(b.revision().unwrap() > r0);
        b.set_state(&DeviceState {
            name: "sw1".into(),
            status: "up".into(),
            ports: 52,
            ..Default::default()
        })
        .unwrap();
        // A second connection (the CLI beside serve) sees it.
        let other = SqliteDevices::open(d.path()).unwrap();
        assert_eq!(other.devices().unwrap().len(), 1);
        let s = other.states().unwrap();
        assert_eq!((s[0].status.as_str(), s[0].ports), ("up", 52));
        let r1 = other.revision().unwrap();
        assert!(b.remove_device("sw1").unwrap());
        assert!(!b.remove_device("sw1").unwrap());
        assert!(other.revision().unwrap() > r1);
        assert!(other.states().unwrap().is_empty());
    }
}
