//! Users in Postgres (book § Endpoints, book § Configuration).

use async_trait::async_trait;
use time::OffsetDateTime;
use tokio_postgres::error::SqlState;
use tokio_postgres::Row;

use super::{unavailable, PgStore};
use crate::domain::UserId;
use crate::domain::{Email, User};
use crate::store::{CreateUserError, NewUser, OutboxMessage, StoreError, UserStore};

const COLUMNS: &str = "id, email, email_verified, name, password_hash, created_at";

fn row_to_user(row: &Row) -> User {
    User {
        id: row.get("id"),
        email: Email::from_stored(row.get("email")),
        email_verified: row.get("email_verified"),
        name: row.get("name"),
        password_hash: row.get("password_hash"),
        created_at: row.get("created_at"),
    }
}

#[async_trait]
impl UserStore for PgStore {
    async fn create_user(
        &self,
        user: NewUser,
        now: OffsetDateTime,
    ) -> Result<User, CreateUserError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(unavailable)?;
        let result = tx
            .query_one(
                &format!("INSERT INTO users (id, email, email_verified, name, password_hash, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING {COLUMNS}"),
                &[&user.id, &user.email.as_str(), &user.email_verified, &user.name, &user.password_hash, &now],
            )
            .await;
        let created = match result {
            Ok(row) => row_to_user(&row),
            Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => {
                return Err(CreateUserError::Duplicate)
            }
            Err(e) => return Err(unavailable(e).into()),
        };
        if let Some(welcome) = &user.welcome {
            super::email_links::insert(&tx, &welcome.link, now).await?;
            super::outbox::enqueue(&tx, &welcome.message).await?;
        }
        if let Some(identity) = &user.identity {
            super::identities::insert(&tx, identity).await?;
        }
        tx.commit().await.map_err(unavailable)?;
        Ok(created)
    }

    async fn find_user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT {COLUMNS} FROM users WHERE email = $1"),
                &[&email.as_str()],
            )
            .await
            .map_err(unavailable)?;
        Ok(row.as_ref().map(row_to_user))
    }

    async fn find_user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        let client = self.client().await?;
        let row = client
            .query_opt(
                &format!("SELECT {COLUMNS} FROM users WHERE id = $1"),
                &[&id],
            )
            .await
            .map_err(unavailable)?;
        Ok(row.as_ref().map(row_to_user))
    }

    async fn set_password_hash(
        &self,
        id: UserId,
        hash: &str,
        now: OffsetDateTime,
        notice: Option<&OutboxMessage>,
    ) -> Result<bool, StoreError> {
        let n = self
            .execute_noticed(
                "UPDATE users SET password_hash = $2, email_verified = true, updated_at = $3 WHERE id = $1",
                &[&id, &hash, &now],
                notice,
            )
            .await?;
        Ok(n == 1)
    }

    async fn delete_user(&self, id: UserId) -> Result<bool, StoreError> {
        let client = self.client().await?;
        let n = client
            .execute("DELETE FROM users WHERE id = $1", &[&id])
            .await
            .map_err(unavailable)?;
        Ok(n == 1)
    }

    async fn replace_password_hash(
        &self,
        id: UserId,
        old: &str,
        new: &str,
        now: OffsetDateTime,
        notice: Option<&OutboxMessage>,
    ) -> Result<bool, StoreError> {
        let n = self
            .execute_noticed(
                "UPDATE users SET password_hash = $3, updated_at = $4 WHERE id = $1 AND password_hash = $2",
                &[&id, &old, &new, &now],
                notice,
            )
            .await?;
        Ok(n == 1)
    }
}
