//! Import of the session state into Redis (`transfer.rs` reads it out): rows of the
//! embedded store's session tables become families with their user and client indexes,
//! blocklisted `jti`s and per-user cut-offs; a row's `expires_at` becomes the key's TTL.
//! A batch is one pipeline, and every key is noted before it is written, so that a failed
//! import can remove what it wrote.

use time::OffsetDateTime;

use super::RedisStore;
use crate::store::transfer::{Cell, Row, TransferError};

/// Milliseconds from `now` until `cell`'s time (at least one).
fn ttl_ms(now: OffsetDateTime, cell: &Cell) -> i64 {
    let until = cell.as_time().unwrap_or(now);
    i64::try_from((until - now).whole_milliseconds())
        .unwrap_or(i64::MAX)
        .max(1)
}

fn unix(cell: &Cell) -> String {
    cell.as_time()
        .map(|t| t.unix_timestamp().to_string())
        .unwrap_or_default()
}

impl RedisStore {
    /// Writes a batch of session rows (families with their user and client indexes) in
    /// one pipeline. Each key is handed to `note` before it is written, so a failed import
    /// can remove it again.
    pub(crate) async fn import_sessions(
        &self,
        rows: &[Row],
        now: OffsetDateTime,
        note: &mut (dyn FnMut(&str) -> std::io::Result<()> + Send),
    ) -> Result<(), TransferError> {
        let mut pipe = redis::pipe();
        let mut written = Vec::new();
        for row in rows.iter().filter(|r| r.table.session_state) {
            let expires = ttl_ms(now, row.get("expires_at"));
            match row.table.name {
                "refresh_families" => {
                    let id = row.get("id").as_text().unwrap_or_default();
                    let user = row.get("user_id").as_uuid().unwrap_or_default();
                    let client = row.get("client_id").as_text().unwrap_or_default();
                    let key = self.family_key(id);
                    let digest = |name: &str| {
                        row.get(name)
                            .as_bytes()
                            .map(hex::encode)
                            .unwrap_or_default()
                    };
                    let amr = match row.get("amr") {
                        Cell::TextList(items) => items.join(","),
                        _ => String::new(),
                    };
                    let mut fields = vec![
                        ("user_id", user.to_string()),
                        ("client_id", client.to_owned()),
                        (
                            "scope",
                            row.get("scope").as_text().unwrap_or_default().to_owned(),
                        ),
                        ("auth_time", unix(row.get("auth_time"))),
                        ("amr", amr),
                        ("created_at", unix(row.get("created_at"))),
                        ("abs_exp", unix(row.get("abs_exp"))),
                        ("current", digest("current")),
                        ("ip", row.get("ip").as_text().unwrap_or_default().to_owned()),
                        (
                            "user_agent",
                            row.get("user_agent")
                                .as_text()
                                .unwrap_or_default()
                                .to_owned(),
                        ),
                    ];
                    if row.get("previous") != &Cell::Null {
                        fields.push(("previous", digest("previous")));
                        fields.push(("rotated_at", unix(row.get("rotated_at"))));
                    }
                    let abs_exp = row
                        .get("abs_exp")
                        .as_time()
                        .map_or(0, |t| t.unix_timestamp());
                    let index_ttl = (abs_exp - now.unix_timestamp()).max(1);
                    pipe.hset_multiple(&key, &fields).ignore();
                    pipe.pexpire(&key, expires).ignore();
                    for index in [
                        self.sessions_key(user.into()),
                        self.client_sessions_key(client),
                    ] {
                        pipe.zadd(&index, id, abs_exp).ignore();
                        pipe.expire(&index, index_ttl).ignore();
                    }
                    written.push(key);
                }
                "jti_blocklist" => {
                    let key = self.key(&["bl", row.get("jti").as_text().unwrap_or_default()]);
                    pipe.cmd("SET")
                        .arg(&key)
                        .arg(1)
                        .arg("PX")
                        .arg(expires)
                        .ignore();
                    written.push(key);
                }
                "user_cutoffs" => {
                    let user = row.get("user_id").as_uuid().unwrap_or_default();
                    let key = self.key(&["cutoff", &user.to_string()]);
                    pipe.cmd("SET")
                        .arg(&key)
                        .arg(unix(row.get("cutoff")))
                        .arg("PX")
                        .arg(expires)
                        .ignore();
                    written.push(key);
                }
                _ => {}
            }
        }
        for key in &written {
            note(key)?;
        }
        self.run_spread(&pipe).await?;
        Ok(())
    }

    /// Ends an import: a new store as far as the revocation feed's readers are concerned.
    pub(crate) async fn import_epoch(
        &self,
        note: &mut (dyn FnMut(&str) -> std::io::Result<()> + Send),
    ) -> Result<(), TransferError> {
        let epoch = self.epoch_key();
        note(&epoch)?;
        let mut pipe = redis::pipe();
        pipe.set(&epoch, super::feed::new_epoch()).ignore();
        self.run_spread(&pipe).await?;
        Ok(())
    }

    /// Removes keys an import wrote (it failed before its Postgres half committed), read
    /// from `keys` a line each.
    pub(crate) async fn remove(&self, keys: impl std::io::BufRead) -> Result<(), TransferError> {
        let mut lines = keys.lines();
        loop {
            let chunk: Vec<String> = lines.by_ref().take(500).collect::<Result<_, _>>()?;
            if chunk.is_empty() {
                return Ok(());
            }
            let mut pipe = redis::pipe();
            for key in &chunk {
                pipe.del(key).ignore();
            }
            self.run_spread(&pipe).await?;
        }
    }
}
