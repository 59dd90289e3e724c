//! Export of the session state in Redis: refresh families, blocklisted `jti`s and per-user
//! cut-offs, as rows of the embedded store's session tables (`import.rs` writes them
//! back). A key's remaining TTL becomes the row's `expires_at`.

use time::OffsetDateTime;

use super::families::FAMILY_FIELDS;
use super::{unavailable, RedisStore};
use crate::store::transfer::{table, Cell, Row, Sink, TransferError};
use crate::store::StoreError;

fn corrupt(key: &str, what: &str) -> StoreError {
    StoreError::Corrupt(format!("{key}: {what}"))
}

fn secs(key: &str, value: Option<&String>) -> Result<Cell, StoreError> {
    let Some(value) = value.filter(|v| !v.is_empty()) else {
        return Ok(Cell::Null);
    };
    let secs: i64 = value.parse().map_err(|_| corrupt(key, "not a time"))?;
    OffsetDateTime::from_unix_timestamp(secs)
        .map(Cell::Time)
        .map_err(|_| corrupt(key, "time out of range"))
}

fn text(value: Option<&String>) -> Cell {
    value
        .filter(|v| !v.is_empty())
        .map_or(Cell::Null, |v| Cell::Text(v.clone()))
}

fn hash(key: &str, value: Option<&String>) -> Result<Cell, StoreError> {
    match value.filter(|v| !v.is_empty()) {
        None => Ok(Cell::Null),
        Some(v) => hex::decode(v)
            .map(Cell::Bytes)
            .map_err(|_| corrupt(key, "not a hex digest")),
    }
}

fn expiry(now: OffsetDateTime, pttl_ms: i64) -> Cell {
    Cell::Time(now + time::Duration::milliseconds(pttl_ms))
}

/// A walk over the keys under a prefix that match a pattern, a SCAN page (about 1,000
/// keys) at a time, on every master of a cluster: a caller holds one page, whatever the
/// store holds.
struct Scan {
    pattern: String,
    nodes: Vec<super::conn::Node>,
    at: usize,
    cursor: u64,
}

/// Values of `replies` (a pipeline's, `width` per key) for each of `keys`.
fn per_key<'k, T: redis::FromRedisValue>(
    keys: &'k [String],
    replies: &[redis::Value],
    width: usize,
) -> Result<Vec<(&'k String, T)>, StoreError> {
    keys.iter()
        .zip(replies.chunks(width))
        .map(|(key, reply)| {
            let value = redis::from_redis_value(&redis::Value::Array(reply.to_vec()));
            Ok((key, value.map_err(unavailable)?))
        })
        .collect()
}

impl RedisStore {
    /// Starts a walk over the keys matching `pattern` (after the prefix).
    async fn scan(&self, pattern: &str) -> Result<Scan, StoreError> {
        Ok(Scan {
            pattern: format!("{}{pattern}", self.prefix()),
            nodes: self.masters().await?,
            at: 0,
            cursor: 0,
        })
    }

    /// The walk's next page (possibly empty); `None` when every master is done.
    async fn page(&self, scan: &mut Scan) -> Result<Option<Vec<String>>, StoreError> {
        let Some(node) = scan.nodes.get(scan.at) else {
            return Ok(None);
        };
        let (next, keys): (u64, Vec<String>) = self
            .on_node(
                node,
                redis::cmd("SCAN")
                    .arg(scan.cursor)
                    .arg("MATCH")
                    .arg(&scan.pattern)
                    .arg("COUNT")
                    .arg(1000),
            )
            .await?;
        scan.cursor = next;
        if next == 0 {
            scan.at += 1;
        }
        Ok(Some(keys))
    }

    /// Each page of keys matching `pattern` with the replies of `commands` (a name and
    /// the arguments after the key) for each key, one pipeline a page, handed to `each`
    /// with the key.
    async fn each_key<T: redis::FromRedisValue>(
        &self,
        pattern: &str,
        commands: &[(&str, &[&str])],
        mut each: impl FnMut(&String, T) -> Result<(), TransferError>,
    ) -> Result<(), TransferError> {
        let mut scan = self.scan(pattern).await?;
        while let Some(keys) = self.page(&mut scan).await? {
            if keys.is_empty() {
                continue;
            }
            let mut pipe = redis::pipe();
            for key in &keys {
                for (command, args) in commands {
                    pipe.cmd(command).arg(key).arg(*args);
                }
            }
            let replies = self.query_spread(&pipe).await?;
            for (key, value) in per_key::<T>(&keys, &replies, commands.len())? {
                each(key, value)?;
            }
        }
        Ok(())
    }

    /// Streams every live session row to `sink`; returns how many.
    pub(crate) async fn export_sessions(
        &self,
        now: OffsetDateTime,
        sink: &mut Sink<'_>,
    ) -> Result<u64, TransferError> {
        let mut written = 0;
        let families = table("refresh_families").ok_or_else(|| missing("refresh_families"))?;
        let prefix = format!("{}fam:{{", self.prefix());
        self.each_key(
            "fam:{*}",
            &[("HMGET", &FAMILY_FIELDS), ("PTTL", &[])],
            |key, (fields, pttl): (Vec<Option<String>>, i64)| {
                if let Some(cells) = family_cells(&prefix, key, &fields, pttl, now)? {
                    sink(Row {
                        table: families,
                        cells,
                    })?;
                    written += 1;
                }
                Ok(())
            },
        )
        .await?;
        let blocklist = table("jti_blocklist").ok_or_else(|| missing("jti_blocklist"))?;
        let prefix = format!("{}bl:", self.prefix());
        self.each_key("bl:*", &[("PTTL", &[])], |key, (pttl,): (i64,)| {
            let jti = key.strip_prefix(&prefix).unwrap_or_default();
            if pttl > 0 {
                sink(Row {
                    table: blocklist,
                    cells: vec![Cell::Text(jti.to_owned()), expiry(now, pttl)],
                })?;
                written += 1;
            }
            Ok(())
        })
        .await?;
        let cutoffs = table("user_cutoffs").ok_or_else(|| missing("user_cutoffs"))?;
        let prefix = format!("{}cutoff:", self.prefix());
        self.each_key(
            "cutoff:*",
            &[("GET", &[]), ("PTTL", &[])],
            |key, (at, pttl): (Option<String>, i64)| {
                let user = key
                    .strip_prefix(&prefix)
                    .and_then(|u| u.parse().ok())
                    .ok_or_else(|| corrupt(key, "user id"))?;
                if let (Some(at), true) = (at, pttl > 0) {
                    let cells = vec![Cell::Uuid(user), secs(key, Some(&at))?, expiry(now, pttl)];
                    sink(Row {
                        table: cutoffs,
                        cells,
                    })?;
                    written += 1;
                }
                Ok(())
            },
        )
        .await?;
        Ok(written)
    }

    /// Whether any session state is held under this prefix.
    pub(crate) async fn session_holdings(&self) -> Result<Vec<String>, StoreError> {
        let mut found = Vec::new();
        for (pattern, what) in [
            ("fam:*", "refresh families"),
            ("bl:*", "blocklisted tokens"),
            ("cutoff:*", "cut-offs"),
        ] {
            let mut scan = self.scan(pattern).await?;
            let mut n = 0;
            while let Some(keys) = self.page(&mut scan).await? {
                n += keys.len();
            }
            if n > 0 {
                found.push(format!("Redis {what}: {n} keys"));
            }
        }
        Ok(found)
    }
}

/// A family's row from its hash's `fields` (`FAMILY_FIELDS`) and remaining TTL; `None`
/// if it ended or expired since the scan found it.
fn family_cells(
    prefix: &str,
    key: &str,
    fields: &[Option<String>],
    pttl: i64,
    now: OffsetDateTime,
) -> Result<Option<Vec<Cell>>, StoreError> {
    let id = key
        .strip_prefix(prefix)
        .and_then(|k| k.strip_suffix('}'))
        .ok_or_else(|| corrupt(key, "unexpected key"))?
        .to_owned();
    let f = |name: &str| {
        let at = FAMILY_FIELDS.iter().position(|n| *n == name);
        at.and_then(|i| fields.get(i)).and_then(Option::as_ref)
    };
    if f("client_id").is_none() || pttl <= 0 {
        return Ok(None);
    }
    let user = f("user_id")
        .and_then(|u| u.parse().ok())
        .ok_or_else(|| corrupt(key, "user_id"))?;
    let amr = f("amr")
        .map(|a| {
            a.split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    let rotated = secs(key, f("rotated_at"))?;
    let created = secs(key, f("created_at"))?;
    let last_used = if rotated == Cell::Null {
        created.clone()
    } else {
        rotated.clone()
    };
    Ok(Some(vec![
        Cell::Text(id),
        Cell::Uuid(user),
        text(f("client_id")),
        Cell::Text(f("scope").cloned().unwrap_or_default()),
        secs(key, f("auth_time"))?,
        Cell::TextList(amr),
        created,
        secs(key, f("abs_exp"))?,
        hash(key, f("current"))?,
        hash(key, f("previous"))?,
        rotated,
        last_used,
        expiry(now, pttl),
        text(f("ip")),
        text(f("user_agent")),
    ]))
}

fn missing(name: &str) -> TransferError {
    TransferError::Refused(format!("no table {name}"))
}
