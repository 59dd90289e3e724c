//! OAuth clients in SQLite (book § Endpoints).

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Row};
use time::OffsetDateTime;

use super::{json_list, micros, parse_list, SqliteStore};
use crate::domain::{Client, ClientId, GrantType};
use crate::store::{ClientStore, StoreError};

const COLUMNS: &str = "id, name, secret_sha256, public, first_party, grant_types, scopes, audiences, redirect_uris, id_token_signed_response_alg, access_token_ttl_seconds, post_logout_redirect_uris, backchannel_logout_uri, backchannel_logout_session_required, security";

/// A row as read, converted outside the blocking call.
struct ClientRow {
    id: String,
    name: String,
    secret: Option<Vec<u8>>,
    public: bool,
    first_party: bool,
    lists: [String; 4],
    alg: String,
    ttl: Option<i64>,
    post_logout: String,
    backchannel: (Option<String>, bool),
    security: String,
}

fn read(row: &Row) -> rusqlite::Result<ClientRow> {
    Ok(ClientRow {
        id: row.get(0)?,
        name: row.get(1)?,
        secret: row.get(2)?,
        public: row.get(3)?,
        first_party: row.get(4)?,
        lists: [row.get(5)?, row.get(6)?, row.get(7)?, row.get(8)?],
        alg: row.get(9)?,
        ttl: row.get(10)?,
        post_logout: row.get(11)?,
        backchannel: (row.get(12)?, row.get(13)?),
        security: row.get(14)?,
    })
}

fn to_client(r: ClientRow) -> Result<Client, StoreError> {
    let corrupt = |what: &str| StoreError::Corrupt(format!("client {}: {what}", r.id));
    let grant_types = parse_list(&r.lists[0])?
        .iter()
        .map(|g| g.parse::<GrantType>().map_err(|()| corrupt("grant")))
        .collect::<Result<_, _>>()?;
    let secret_sha256 = match r.secret {
        None => None,
        Some(bytes) => Some(<[u8; 32]>::try_from(bytes).map_err(|_| corrupt("secret digest"))?),
    };
    Ok(Client {
        id: ClientId::parse(&r.id).map_err(|_| corrupt("id"))?,
        name: r.name.clone(),
        secret_sha256,
        public: r.public,
        first_party: r.first_party,
        grant_types,
        scopes: parse_list(&r.lists[1])?,
        audiences: parse_list(&r.lists[2])?,
        redirect_uris: parse_list(&r.lists[3])?,
        post_logout_redirect_uris: parse_list(&r.post_logout)?,
        id_token_alg: r.alg.parse().map_err(|()| corrupt("alg"))?,
        access_token_ttl: r
            .ttl
            .and_then(|s| u64::try_from(s).ok())
            .map(std::time::Duration::from_secs),
        backchannel_logout_uri: r.backchannel.0,
        backchannel_logout_session_required: r.backchannel.1,
        security: serde_json::from_str(&r.security).map_err(|_| corrupt("security settings"))?,
    })
}

fn security(client: &Client) -> String {
    serde_json::to_string(&client.security).unwrap_or_else(|_| "{}".into())
}

fn grants(client: &Client) -> String {
    let names: Vec<String> = client
        .grant_types
        .iter()
        .map(|g| g.as_str().to_owned())
        .collect();
    json_list(&names)
}

#[async_trait]
impl ClientStore for SqliteStore {
    async fn create_client(&self, client: &Client, now: OffsetDateTime) -> Result<(), StoreError> {
        let c = client.clone();
        self.write(move |tx| {
            tx.execute(
                "INSERT INTO clients (id, name, secret_sha256, public, first_party, grant_types, scopes, audiences, redirect_uris, id_token_signed_response_alg, access_token_ttl_seconds, created_at, updated_at, post_logout_redirect_uris, backchannel_logout_uri, backchannel_logout_session_required, security) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12, ?13, ?14, ?15, ?16)",
                params![c.id.as_str(), c.name, c.secret_sha256.map(|s| s.to_vec()), c.public, c.first_party, grants(&c),
                    json_list(&c.scopes), json_list(&c.audiences), json_list(&c.redirect_uris), c.id_token_alg.as_str(),
                    c.access_token_ttl.map(|t| i64::try_from(t.as_secs()).unwrap_or(i64::MAX)), micros(now),
                    json_list(&c.post_logout_redirect_uris), c.backchannel_logout_uri, c.backchannel_logout_session_required, security(&c)],
            )
        })
        .await?;
        Ok(())
    }

    async fn find_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        let id = id.as_str().to_owned();
        let row = self
            .run(move |c| {
                c.query_row(
                    &format!("SELECT {COLUMNS} FROM clients WHERE id = ?1"),
                    [id],
                    read,
                )
                .optional()
            })
            .await?;
        row.map(to_client).transpose()
    }

    async fn list_clients(
        &self,
        after: Option<&ClientId>,
        limit: usize,
    ) -> Result<Vec<Client>, StoreError> {
        let after = after.map_or(String::new(), |a| a.as_str().to_owned());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .run(move |c| {
                let mut stmt = c.prepare(&format!(
                    "SELECT {COLUMNS} FROM clients WHERE id > ?1 ORDER BY id LIMIT ?2"
                ))?;
                let rows = stmt.query_map(params![after, limit], read)?;
                rows.collect::<rusqlite::Result<Vec<_>>>()
            })
            .await?;
        rows.into_iter().map(to_client).collect()
    }

    async fn update_client(
        &self,
        client: &Client,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let c = client.clone();
        let n = self
            .write(move |tx| {
                tx.execute(
                    "UPDATE clients SET name = ?2, first_party = ?3, grant_types = ?4, scopes = ?5, audiences = ?6, redirect_uris = ?7, updated_at = ?8, post_logout_redirect_uris = ?9, backchannel_logout_uri = ?10, backchannel_logout_session_required = ?11, security = ?12 WHERE id = ?1",
                    params![c.id.as_str(), c.name, c.first_party, grants(&c), json_list(&c.scopes), json_list(&c.audiences), json_list(&c.redirect_uris), micros(now), json_list(&c.post_logout_redirect_uris), c.backchannel_logout_uri, c.backchannel_logout_session_required, security(&c)],
                )
            })
            .await?;
        Ok(n == 1)
    }

    async fn set_client_secret(
        &self,
        id: &ClientId,
        secret_sha256: [u8; 32],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let id = id.as_str().to_owned();
        let n = self
            .write(move |tx| {
                tx.execute(
                    "UPDATE clients SET secret_sha256 = ?2, updated_at = ?3 WHERE id = ?1 AND NOT public",
                    params![id, secret_sha256.to_vec(), micros(now)],
                )
            })
            .await?;
        Ok(n == 1)
    }

    async fn delete_client(&self, id: &ClientId) -> Result<bool, StoreError> {
        let id = id.as_str().to_owned();
        let n = self
            .write(move |tx| tx.execute("DELETE FROM clients WHERE id = ?1", [id]))
            .await?;
        Ok(n == 1)
    }
}
