//! OAuth clients in Postgres (book § Endpoints).

use async_trait::async_trait;
use time::OffsetDateTime;
use tokio_postgres::Row;

use super::{unavailable, PgStore};
use crate::domain::{Client, ClientId, GrantType};
use crate::store::{ClientStore, StoreError};

const COLUMNS: &str = "id, name, secret_sha256, public, first_party, grant_types, scopes, audiences, redirect_uris, post_logout_redirect_uris, id_token_signed_response_alg, access_token_ttl_seconds, backchannel_logout_uri, backchannel_logout_session_required, security";

fn row_to_client(row: &Row) -> Result<Client, StoreError> {
    let id: String = row.get("id");
    let secret: Option<Vec<u8>> = row.get("secret_sha256");
    let secret_sha256 = match secret {
        Some(bytes) => Some(
            bytes
                .try_into()
                .map_err(|_| StoreError::Corrupt(format!("client {id}: bad secret digest")))?,
        ),
        None => None,
    };
    let grants: Vec<String> = row.get("grant_types");
    let alg: String = row.get("id_token_signed_response_alg");
    let ttl: Option<i32> = row.get("access_token_ttl_seconds");
    Ok(Client {
        id: ClientId::parse(&id).map_err(|_| StoreError::Corrupt(format!("client id {id:?}")))?,
        name: row.get("name"),
        secret_sha256,
        public: row.get("public"),
        first_party: row.get("first_party"),
        grant_types: grants
            .iter()
            .filter_map(|g| g.parse::<GrantType>().ok())
            .collect(),
        scopes: row.get("scopes"),
        audiences: row.get("audiences"),
        redirect_uris: row.get("redirect_uris"),
        post_logout_redirect_uris: row.get("post_logout_redirect_uris"),
        id_token_alg: alg
            .parse()
            .map_err(|()| StoreError::Corrupt(format!("client {id}: alg {alg}")))?,
        access_token_ttl: ttl
            .and_then(|s| u64::try_from(s).ok())
            .map(std::time::Duration::from_secs),
        backchannel_logout_uri: row.get("backchannel_logout_uri"),
        backchannel_logout_session_required: row.get("backchannel_logout_session_required"),
        security: serde_json::from_value(row.get("security"))
            .map_err(|_| StoreError::Corrupt(format!("client {id}: security settings")))?,
    })
}

fn security(client: &Client) -> serde_json::Value {
    serde_json::to_value(&client.security).unwrap_or_else(|_| serde_json::json!({}))
}

#[async_trait]
impl ClientStore for PgStore {
    async fn create_client(&self, client: &Client, now: OffsetDateTime) -> Result<(), StoreError> {
        let db = self.client().await?;
        let grants: Vec<&str> = client.grant_types.iter().map(|g| g.as_str()).collect();
        let secret = client.secret_sha256.map(|s| s.to_vec());
        let alg = client.id_token_alg.as_str();
        let ttl = client
            .access_token_ttl
            .map(|t| i32::try_from(t.as_secs()).unwrap_or(i32::MAX));
        db.execute(
            "INSERT INTO clients (id, name, secret_sha256, public, first_party, grant_types, scopes, audiences, redirect_uris, id_token_signed_response_alg, access_token_ttl_seconds, created_at, updated_at, post_logout_redirect_uris, backchannel_logout_uri, backchannel_logout_session_required, security) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, $13, $14, $15, $16)",
            &[&client.id.as_str(), &client.name, &secret, &client.public, &client.first_party, &grants, &client.scopes, &client.audiences, &client.redirect_uris, &alg, &ttl, &now, &client.post_logout_redirect_uris, &client.backchannel_logout_uri, &client.backchannel_logout_session_required, &security(client)],
        )
        .await
        .map_err(unavailable)?;
        Ok(())
    }

    async fn find_client(&self, id: &ClientId) -> Result<Option<Client>, StoreError> {
        let db = self.client().await?;
        let row = db
            .query_opt(
                &format!("SELECT {COLUMNS} FROM clients WHERE id = $1"),
                &[&id.as_str()],
            )
            .await
            .map_err(unavailable)?;
        row.as_ref().map(row_to_client).transpose()
    }

    async fn list_clients(
        &self,
        after: Option<&ClientId>,
        limit: usize,
    ) -> Result<Vec<Client>, StoreError> {
        let db = self.client().await?;
        let after = after.map_or("", |a| a.as_str());
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = db
            .query(
                &format!("SELECT {COLUMNS} FROM clients WHERE id > $1 ORDER BY id LIMIT $2"),
                &[&after, &limit],
            )
            .await
            .map_err(unavailable)?;
        rows.iter().map(row_to_client).collect()
    }

    async fn update_client(
        &self,
        client: &Client,
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let db = self.client().await?;
        let grants: Vec<&str> = client.grant_types.iter().map(|g| g.as_str()).collect();
        let n = db
            .execute(
                "UPDATE clients SET name = $2, first_party = $3, grant_types = $4, scopes = $5, audiences = $6, redirect_uris = $7, updated_at = $8, post_logout_redirect_uris = $9, backchannel_logout_uri = $10, backchannel_logout_session_required = $11, security = $12 WHERE id = $1",
                &[&client.id.as_str(), &client.name, &client.first_party, &grants, &client.scopes, &client.audiences, &client.redirect_uris, &now, &client.post_logout_redirect_uris, &client.backchannel_logout_uri, &client.backchannel_logout_session_required, &security(client)],
            )
            .await
            .map_err(unavailable)?;
        Ok(n == 1)
    }

    async fn set_client_secret(
        &self,
        id: &ClientId,
        secret_sha256: [u8; 32],
        now: OffsetDateTime,
    ) -> Result<bool, StoreError> {
        let db = self.client().await?;
        let n = db
            .execute(
                "UPDATE clients SET secret_sha256 = $2, updated_at = $3 WHERE id = $1 AND NOT public",
                &[&id.as_str(), &secret_sha256.to_vec(), &now],
            )
            .await
            .map_err(unavailable)?;
        Ok(n == 1)
    }

    async fn delete_client(&self, id: &ClientId) -> Result<bool, StoreError> {
        let db = self.client().await?;
        let n = db
            .execute("DELETE FROM clients WHERE id = $1", &[&id.as_str()])
            .await
            .map_err(unavailable)?;
        Ok(n == 1)
    }
}
