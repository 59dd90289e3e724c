//! The authorization-code flow's durable state in SQLite (book § Sign-in with the authorization-code flow): remembered consents,
//! and SSO sessions with the families started under each (Redis holds those in the
//! PostgreSQL + Redis mode).

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Row};
use time::OffsetDateTime;

use super::{from_micros, json_list, micros, parse_list, user_id_of, SqliteStore};
use crate::domain::FamilyId;
use crate::domain::UserId;
use crate::store::{Consent, ConsentStore, SsoSession, SsoStore, StoreError};

const SSO_COLUMNS: &str = "id, user_id, secret_sha256, auth_time, amr, created_at, expires_at";

type RawSso = (String, String, Vec<u8>, i64, String, i64, i64);

fn read_sso(r: &Row) -> rusqlite::Result<RawSso> {
    // rusqlite reads a row into a tuple of its columns
    RawSso::try_from(r)
}

fn to_sso(raw: RawSso) -> Result<SsoSession, StoreError> {
    let (id, user, secret, auth_time, amr, created_at, expires_at) = raw;
    Ok(SsoSession {
        secret_sha256: secret
            .try_into()
            .map_err(|_| StoreError::Corrupt(format!("sso session {id}: secret")))?,
        user_id: user_id_of(&user)?,
        amr: parse_list(&amr)?,
        auth_time: from_micros(auth_time),
        created_at: from_micros(created_at),
        expires_at: from_micros(expires_at),
        id,
    })
}

#[async_trait]
impl SsoStore for SqliteStore {
    async fn create_sso(&self, session: &SsoSession) -> Result<(), StoreError> {
        let s = session.clone();
        self.write(move |tx| {
            tx.execute(
                &format!(
                    "INSERT INTO sso_sessions ({SSO_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"
                ),
                params![
                    s.id,
                    s.user_id.to_string(),
                    s.secret_sha256.to_vec(),
                    micros(s.auth_time),
                    json_list(&s.amr),
                    micros(s.created_at),
                    micros(s.expires_at)
                ],
            )
        })
        .await?;
        Ok(())
    }

    async fn find_sso(
        &self,
        id: &str,
        now: OffsetDateTime,
    ) -> Result<Option<SsoSession>, StoreError> {
        let id = id.to_owned();
        let raw = self
            .run(move |c| {
                c.query_row(
                    &format!(
                        "SELECT {SSO_COLUMNS} FROM sso_sessions WHERE id = ?1 AND expires_at > ?2"
                    ),
                    params![id, micros(now)],
                    read_sso,
                )
                .optional()
            })
            .await?;
        raw.map(to_sso).transpose()
    }

    async fn add_sso_family(
        &self,
        id: &str,
        family_id: &FamilyId,
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (id, family) = (id.to_owned(), family_id.to_owned());
        self.write(move |tx| {
            tx.execute(
                "INSERT OR IGNORE INTO sso_families (sso_id, family_id) \
                 SELECT id, ?2 FROM sso_sessions WHERE id = ?1 AND expires_at > ?3",
                params![id, family, micros(now)],
            )
        })
        .await?;
        Ok(())
    }

    async fn end_sso(&self, id: &str, _now: OffsetDateTime) -> Result<Vec<FamilyId>, StoreError> {
        let id = id.to_owned();
        self.write(move |tx| {
            let families = {
                let mut stmt =
                    tx.prepare("SELECT family_id FROM sso_families WHERE sso_id = ?1")?;
                let rows = stmt.query_map([&id], |r| r.get(0))?;
                rows.collect::<rusqlite::Result<Vec<FamilyId>>>()?
            };
            tx.execute("DELETE FROM sso_sessions WHERE id = ?1", [&id])?;
            Ok(families)
        })
        .await
    }

    async fn end_user_sso(&self, user: UserId, now: OffsetDateTime) -> Result<usize, StoreError> {
        let user = user.to_string();
        self.write(move |tx| {
            tx.execute(
                "DELETE FROM sso_sessions WHERE user_id = ?1 AND expires_at > ?2",
                params![user, micros(now)],
            )
        })
        .await
    }

    async fn list_sso(
        &self,
        user: UserId,
        now: OffsetDateTime,
    ) -> Result<Vec<SsoSession>, StoreError> {
        let user = user.to_string();
        let rows = self
            .run(move |c| {
                let mut stmt = c.prepare(&format!(
                    "SELECT {SSO_COLUMNS} FROM sso_sessions WHERE user_id = ?1 AND expires_at > ?2 ORDER BY created_at DESC, id"
                ))?;
                let rows = stmt.query_map(params![user, micros(now)], read_sso)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        rows.into_iter().map(to_sso).collect()
    }
}

fn read_consent(r: &Row) -> rusqlite::Result<(String, String, i64)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
}

fn to_consent((client_id, scopes, at): (String, String, i64)) -> Result<Consent, StoreError> {
    Ok(Consent {
        client_id,
        scopes: parse_list(&scopes)?,
        granted_at: from_micros(at),
    })
}

#[async_trait]
impl ConsentStore for SqliteStore {
    async fn grant_consent(
        &self,
        user: UserId,
        client_id: &str,
        scopes: &[String],
        now: OffsetDateTime,
    ) -> Result<(), StoreError> {
        let (user, client) = (user.to_string(), client_id.to_owned());
        let mut granted: Vec<String> = scopes.to_vec();
        self.write(move |tx| {
            let held: Option<String> = tx
                .query_row(
                    "SELECT scopes FROM consents WHERE user_id = ?1 AND client_id = ?2",
                    params![user, client],
                    |r| r.get(0),
                )
                .optional()?;
            if let Some(held) = held {
                granted.extend(serde_json::from_str::<Vec<String>>(&held).unwrap_or_default());
            }
            granted.sort();
            granted.dedup();
            tx.execute(
                "INSERT OR REPLACE INTO consents (user_id, client_id, scopes, granted_at) VALUES (?1, ?2, ?3, ?4)",
                params![user, client, json_list(&granted), micros(now)],
            )
        })
        .await?;
        Ok(())
    }

    async fn find_consent(
        &self,
        user: UserId,
        client_id: &str,
    ) -> Result<Option<Consent>, StoreError> {
        let (user, client) = (user.to_string(), client_id.to_owned());
        let raw = self
            .run(move |c| {
                c.query_row(
                    "SELECT client_id, scopes, granted_at FROM consents WHERE user_id = ?1 AND client_id = ?2",
                    params![user, client],
                    read_consent,
                )
                .optional()
            })
            .await?;
        raw.map(to_consent).transpose()
    }

    async fn list_consents(&self, user: UserId) -> Result<Vec<Consent>, StoreError> {
        let user = user.to_string();
        let rows = self
            .run(move |c| {
                let mut stmt = c.prepare(
                    "SELECT client_id, scopes, granted_at FROM consents WHERE user_id = ?1 ORDER BY client_id",
                )?;
                let rows = stmt.query_map([user], read_consent)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        rows.into_iter().map(to_consent).collect()
    }

    async fn revoke_consent(&self, user: UserId, client_id: &str) -> Result<bool, StoreError> {
        let (user, client) = (user.to_string(), client_id.to_owned());
        let n = self
            .write(move |tx| {
                tx.execute(
                    "DELETE FROM consents WHERE user_id = ?1 AND client_id = ?2",
                    params![user, client],
                )
            })
            .await?;
        Ok(n > 0)
    }
}
