//! The embedded store's epoch: a random number, new at migrate, at import
//! and in every backup copy, that revocation-feed cursors carry.

use rusqlite::Connection;

/// The store's epoch.
pub(super) fn read(c: &Connection) -> rusqlite::Result<u64> {
    let epoch: i64 = c.query_row(
        "SELECT value FROM store_meta WHERE name = 'epoch'",
        [],
        |r| r.get(0),
    )?;
    Ok(epoch.unsigned_abs())
}

/// Gives the store a new epoch: cursors handed out before no longer read on.
pub(super) fn renew(c: &Connection) -> rusqlite::Result<()> {
    c.execute(
        "UPDATE store_meta SET value = (random() & 9223372036854775807) | 1 WHERE name = 'epoch'",
        [],
    )
    .map(|_| ())
}
