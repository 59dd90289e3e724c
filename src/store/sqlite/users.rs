//! Users in SQLite (book § Configuration).

use async_trait::async_trait;
use rusqlite::{params, OptionalExtension, Row};
use time::OffsetDateTime;

use super::{from_micros, micros, user_id_of, SqliteStore};
use crate::domain::UserId;
use crate::domain::{Email, User};
use crate::store::{CreateUserError, NewUser, OutboxMessage, StoreError, UserStore};

const COLUMNS: &str = "id, email, email_verified, name, password_hash, created_at";

type UserRow = (String, String, bool, Option<String>, String, i64);

fn read(row: &Row) -> rusqlite::Result<UserRow> {
    // rusqlite reads a row into a tuple of its columns
    UserRow::try_from(row)
}

fn to_user(
    (id, email, email_verified, name, password_hash, created_at): UserRow,
) -> Result<User, StoreError> {
    Ok(User {
        id: user_id_of(&id)?,
        email: Email::from_stored(email),
        email_verified,
        name,
        password_hash,
        created_at: from_micros(created_at),
    })
}

impl SqliteStore {
    async fn user_where(
        &self,
        clause: &'static str,
        key: String,
    ) -> Result<Option<User>, StoreError> {
        let row = self
            .read_only(move |c| {
                c.query_row(
                    &format!("SELECT {COLUMNS} FROM users WHERE {clause}"),
                    [key],
                    read,
                )
                .optional()
            })
            .await?;
        row.map(to_user).transpose()
    }
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn create_user(
        &self,
        user: NewUser,
        now: OffsetDateTime,
    ) -> Result<User, CreateUserError> {
        let id = user.id;
        let created = User {
            id,
            email: user.email.clone(),
            email_verified: user.email_verified,
            name: user.name.clone(),
            password_hash: user.password_hash.clone(),
            created_at: from_micros(micros(now)),
        };
        let inserted = self
            .write(move |tx| {
                let inserted = tx.execute(
                    "INSERT INTO users (id, email, email_verified, name, password_hash, created_at, updated_at) \
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) ON CONFLICT (email) DO NOTHING",
                    params![id.to_string(), user.email.as_str(), user.email_verified, user.name, user.password_hash, micros(now)],
                )?;
                if let (1, Some(welcome)) = (inserted, &user.welcome) {
                    super::email_links::insert(tx, &welcome.link, now)?;
                    super::outbox::enqueue(tx, &welcome.message)?;
                }
                if let (1, Some(identity)) = (inserted, &user.identity) {
                    super::identities::insert(tx, identity)?;
                }
                Ok(inserted)
            })
            .await
            .map_err(CreateUserError::Store)?;
        if inserted == 0 {
            return Err(CreateUserError::Duplicate);
        }
        Ok(created)
    }

    async fn find_user_by_email(&self, email: &Email) -> Result<Option<User>, StoreError> {
        self.user_where("email = ?1", email.as_str().to_owned())
            .await
    }

    async fn find_user(&self, id: UserId) -> Result<Option<User>, StoreError> {
        self.user_where("id = ?1", id.to_string()).await
    }

    async fn set_password_hash(
        &self,
        id: UserId,
        hash: &str,
        now: OffsetDateTime,
        notice: Option<&OutboxMessage>,
    ) -> Result<bool, StoreError> {
        let (hash, notice) = (hash.to_owned(), notice.cloned());
        let n = self
            .write(move |tx| {
                let n = tx.execute(
                    "UPDATE users SET password_hash = ?2, email_verified = 1, updated_at = ?3 WHERE id = ?1",
                    params![id.to_string(), hash, micros(now)],
                )?;
                super::outbox::enqueue_if(tx, n, notice.as_ref())
            })
            .await?;
        Ok(n == 1)
    }

    async fn delete_user(&self, id: UserId) -> Result<bool, StoreError> {
        let n = self
            .write(move |tx| tx.execute("DELETE FROM users WHERE id = ?1", [id.to_string()]))
            .await?;
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
        let (old, new, notice) = (old.to_owned(), new.to_owned(), notice.cloned());
        let n = self
            .write(move |tx| {
                let n = tx.execute(
                    "UPDATE users SET password_hash = ?3, updated_at = ?4 WHERE id = ?1 AND password_hash = ?2",
                    params![id.to_string(), old, new, micros(now)],
                )?;
                super::outbox::enqueue_if(tx, n, notice.as_ref())
            })
            .await?;
        Ok(n == 1)
    }
}
