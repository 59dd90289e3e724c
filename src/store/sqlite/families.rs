//! Refresh-token families in SQLite (RFC 9068, book § Endpoints, book § Configuration): one row per login session; each rotation
//! is one write transaction with exactly the semantics of `rotate.lua` (grace, reuse
//! detection, idle and absolute expiry). Idle expiry follows the wall clock, as Redis TTLs do.

use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Row, Transaction};
use time::OffsetDateTime;

use super::{json_list, micros, parse_list, user_id_of, SqliteStore};
use crate::domain::FamilyId;
use crate::domain::UserId;
use crate::store::{
    Ended, Family, FamilyStore, RotateRequest, Rotation, SessionInfo, SessionMeta, StoreError,
};

const FAMILY: &str =
    "SELECT id, user_id, client_id, scope, auth_time, amr, created_at, abs_exp FROM refresh_families";

type RawFamily = (String, String, String, String, i64, String, i64, i64);

fn read(r: &Row) -> rusqlite::Result<RawFamily> {
    // rusqlite reads a row into a tuple of its columns
    RawFamily::try_from(r)
}

fn to_family(raw: RawFamily) -> Result<Family, StoreError> {
    let (id, user, client_id, scope, auth_time, amr, created_at, absolute_expiry) = raw;
    Ok(Family {
        user_id: user_id_of(&user)?,
        amr: parse_list(&amr)?,
        id: id.into(),
        client_id,
        scope,
        auth_time: second(auth_time)?,
        created_at: second(created_at)?,
        absolute_expiry: second(absolute_expiry)?,
    })
}

/// A time stored as Unix seconds.
fn second(secs: i64) -> Result<time::OffsetDateTime, StoreError> {
    time::OffsetDateTime::from_unix_timestamp(secs)
        .map_err(|_| StoreError::Corrupt(format!("not a time: {secs}")))
}

/// Column `i`, a time stored as Unix seconds.
fn second_column(r: &Row, i: usize) -> rusqlite::Result<time::OffsetDateTime> {
    let secs: i64 = r.get(i)?;
    time::OffsetDateTime::from_unix_timestamp(secs).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(i, rusqlite::types::Type::Integer, Box::new(e))
    })
}

/// Whole seconds of a span, at least one (as `EXPIRE` takes them).
fn secs(span: Duration) -> i64 {
    i64::try_from(span.as_secs()).unwrap_or(i64::MAX).max(1)
}

/// The time (µs) a family unused from `now_us` for `ttl` seconds expires.
fn expiry(now_us: i64, ttl_secs: i64) -> i64 {
    now_us.saturating_add(ttl_secs.saturating_mul(1_000_000))
}

/// What a rotation found, before the family row is converted.
enum Found {
    Rotated(RawFamily),
    Grace(RawFamily),
    Reused(RawFamily),
    Rejected,
}

fn rotate_in(tx: &Transaction, r: &Rotate) -> rusqlite::Result<Found> {
    let row = tx
        .query_row(
            "SELECT id, user_id, client_id, scope, auth_time, amr, created_at, abs_exp, \
             current, previous, rotated_at, expires_at FROM refresh_families WHERE id = ?1",
            [&r.family_id],
            |row| {
                let current: Option<Vec<u8>> = row.get(8)?;
                let previous: Option<Vec<u8>> = row.get(9)?;
                let rotated_at: Option<i64> = row.get(10)?;
                let expires_at: i64 = row.get(11)?;
                Ok((read(row)?, current, previous, rotated_at, expires_at))
            },
        )
        .optional()?;
    let Some((family, current, previous, rotated_at, expires_at)) = row else {
        return Ok(Found::Rejected);
    };
    let delete =
        |tx: &Transaction| tx.execute("DELETE FROM refresh_families WHERE id = ?1", [&r.family_id]);
    if expires_at <= r.now_us {
        delete(tx)?;
        return Ok(Found::Rejected);
    }
    let abs_exp = family.7;
    if abs_exp <= r.now {
        delete(tx)?;
        return Ok(Found::Rejected);
    }
    if family.2 != r.client_id {
        return Ok(Found::Rejected);
    }
    let Some(current) = current else {
        return Ok(Found::Rejected);
    };
    if current == r.presented {
        let ttl = r.idle_ttl.min(abs_exp - r.now);
        tx.execute(
            "UPDATE refresh_families SET current = ?2, previous = ?3, rotated_at = ?4, last_used = ?4, expires_at = ?5 WHERE id = ?1",
            params![r.family_id, r.next.to_vec(), r.presented.to_vec(), r.now, expiry(r.now_us, ttl)],
        )?;
        return Ok(Found::Rotated(family));
    }
    let within_grace = r.grace > 0 && rotated_at.is_some_and(|at| r.now - at < r.grace);
    if previous.as_deref() == Some(&r.presented[..]) && within_grace {
        return Ok(if current == r.next {
            Found::Grace(family)
        } else {
            Found::Rejected
        });
    }
    delete(tx)?;
    Ok(Found::Reused(family))
}

/// A rotation request with owned values, for the blocking call.
struct Rotate {
    family_id: String,
    presented: [u8; 32],
    next: [u8; 32],
    client_id: String,
    /// Unix seconds (absolute expiry, rotation times) and µs (idle expiry) of the same now.
    now: i64,
    now_us: i64,
    idle_ttl: i64,
    grace: i64,
}

impl SqliteStore {
    /// Ends the live families matching `clause` (?1, ?2 bound); returns how many.
    async fn end_families(
        &self,
        clause: &'static str,
        a: String,
        b: Option<String>,
        now: OffsetDateTime,
    ) -> Result<Vec<Ended>, StoreError> {
        let rows = self.write(move |tx| {
            // one statement: expired rows go too, only the live ones count as ended
            let mut stmt = tx.prepare(&format!(
                "DELETE FROM refresh_families WHERE {clause} RETURNING id, client_id, expires_at > ?3, user_id"
            ))?;
            let rows = stmt
                .query_map(params![a, b, micros(now)], |r| {
                    Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?, r.get::<_, bool>(2)?, r.get::<_, String>(3)?))
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows
                .into_iter()
                .filter(|(_, _, alive, _)| *alive)
                .map(|(id, client_id, _, user)| (id, client_id, user))
                .collect::<Vec<_>>())
        })
        .await?;
        rows.into_iter()
            .map(|(id, client_id, user)| {
                let user_id = user
                    .parse()
                    .map_err(|_| StoreError::Corrupt(format!("family {id}: user")))?;
                Ok(Ended {
                    id: id.into(),
                    client_id,
                    user_id,
                })
            })
            .collect()
    }
}

#[async_trait]
impl FamilyStore for SqliteStore {
    async fn create_family(
        &self,
        family: &Family,
        meta: &SessionMeta,
        current: Option<&[u8; 32]>,
        ttl: Duration,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let f = family.clone();
        let meta = meta.clone();
        let current = current.map(|c| c.to_vec());
        let (created, expiry_at) = (
            f.created_at.unix_timestamp(),
            f.absolute_expiry.unix_timestamp(),
        );
        let ttl = secs(ttl).min(expiry_at - created).max(1);
        self.write(move |tx| {
            tx.execute(
                "INSERT OR REPLACE INTO refresh_families (id, user_id, client_id, scope, auth_time, amr, created_at, abs_exp, current, last_used, expires_at, ip, user_agent) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?7, ?10, ?11, ?12)",
                params![f.id, f.user_id.to_string(), f.client_id, f.scope, f.auth_time.unix_timestamp(), json_list(&f.amr), created, expiry_at, current, expiry(micros(now), ttl), meta.ip, meta.user_agent],
            )
        })
        .await?;
        Ok(())
    }

    async fn list_sessions(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<SessionInfo>, StoreError> {
        self.run(move |c| {
            let mut stmt = c.prepare(
                "SELECT id, client_id, created_at, COALESCE(rotated_at, created_at), ip, user_agent FROM refresh_families \
                 WHERE user_id = ?1 AND expires_at > ?2 ORDER BY created_at DESC, id",
            )?;
            let rows = stmt.query_map(params![user.to_string(), micros(now)], |r| {
                Ok(SessionInfo {
                    id: r.get(0)?,
                    client_id: r.get(1)?,
                    created_at: second_column(r, 2)?,
                    last_used: second_column(r, 3)?,
                    ip: r.get(4)?,
                    user_agent: r.get(5)?,
                })
            })?;
            rows.collect()
        })
        .await
    }

    async fn revoke_user_sessions(
        &self,
        user: UserId,
        keep: Option<&FamilyId>,
        now: OffsetDateTime,
    ) -> Result<Vec<Ended>, StoreError> {
        let clause = "user_id = ?1 AND (?2 IS NULL OR id <> ?2)";
        self.end_families(clause, user.to_string(), keep.map(|k| k.to_string()), now)
            .await
    }

    async fn revoke_client_sessions(
        &self,
        client_id: &str,
        now: OffsetDateTime,
    ) -> Result<Vec<Ended>, StoreError> {
        let clause = "client_id = ?1 AND ?2 IS NULL";
        self.end_families(clause, client_id.to_owned(), None, now)
            .await
    }

    async fn rotate(&self, request: RotateRequest<'_>) -> Result<Rotation, StoreError> {
        let r = Rotate {
            family_id: request.family_id.to_string(),
            presented: *request.presented,
            next: *request.next,
            client_id: request.client_id.to_owned(),
            now: request.now.unix_timestamp(),
            now_us: micros(request.now),
            idle_ttl: secs(request.idle_ttl),
            grace: i64::try_from(request.grace.as_secs()).unwrap_or(i64::MAX),
        };
        let found = self.write(move |tx| rotate_in(tx, &r)).await?;
        Ok(match found {
            Found::Rotated(f) => Rotation::Rotated(to_family(f)?),
            Found::Grace(f) => Rotation::Grace(to_family(f)?),
            Found::Reused(f) => Rotation::Reused(to_family(f)?),
            Found::Rejected => Rotation::Rejected,
        })
    }

    async fn revoke_family(
        &self,
        family_id: &FamilyId,
        client_id: Option<&str>,
        now: OffsetDateTime,
    ) -> Result<Option<Ended>, StoreError> {
        let clause = "id = ?1 AND (?2 IS NULL OR client_id = ?2)";
        let owner = client_id.map(str::to_owned);
        let ended = self
            .end_families(clause, family_id.to_string(), owner, now)
            .await?;
        Ok(ended.into_iter().next())
    }

    async fn find_family(
        &self,
        family_id: &FamilyId,
        now: OffsetDateTime,
    ) -> Result<Option<Family>, StoreError> {
        let id = family_id.to_owned();
        let row = self
            .read_only(move |c| {
                c.query_row(
                    &format!("{FAMILY} WHERE id = ?1 AND expires_at > ?2 AND abs_exp > ?3"),
                    params![id, micros(now), now.unix_timestamp()],
                    read,
                )
                .optional()
            })
            .await?;
        row.map(to_family).transpose()
    }

    async fn is_current(
        &self,
        family_id: &FamilyId,
        hash: &[u8; 32],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let (id, hash) = (family_id.to_owned(), hash.to_vec());
        self.run(move |c| {
            c.query_row(
                "SELECT 1 FROM refresh_families WHERE id = ?1 AND current = ?2 AND expires_at > ?3",
                params![id, hash, micros(now)],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
        })
        .await
    }
}
