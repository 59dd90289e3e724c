//! The audit trail (book § Endpoints).

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;

use super::StoreError;
use crate::domain::UserId;

/// An auth or admin event for the audit trail (book § Endpoints).
#[derive(Debug, Clone)]
pub struct AuditEvent {
    pub event_type: &'static str,
    pub actor: Option<String>,
    pub user_id: Option<UserId>,
    pub client_id: Option<String>,
    pub ip: Option<String>,
    pub outcome: &'static str,
    pub detail: Value,
}

/// A stored audit event (`http::admin::audit` owns the form `/admin/audit` answers).
#[derive(Debug, Clone)]
pub struct AuditRecord {
    /// Increasing.
    pub id: i64,
    pub at: OffsetDateTime,
    pub event_type: String,
    /// The admin token label, `cli`, `scheduler`, or none for end-user events.
    pub actor: Option<String>,
    pub user_id: Option<UserId>,
    pub client_id: Option<String>,
    pub ip: Option<String>,
    pub outcome: String,
    pub detail: Value,
}

/// Filters for reading the trail, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub user: Option<UserId>,
    pub event_type: Option<String>,
    pub since: Option<OffsetDateTime>,
    /// Only events with a smaller id (keyset pagination).
    pub before: Option<i64>,
    pub limit: i64,
}

/// One filter of an audit query, with its value for the backend to bind in its own types.
#[derive(Debug, Clone, Copy)]
pub enum AuditFilter<'a> {
    User(UserId),
    EventType(&'a str),
    Since(OffsetDateTime),
    Before(i64),
}

impl AuditFilter<'_> {
    /// The condition, up to the placeholder of its value.
    pub fn condition(&self) -> &'static str {
        match self {
            AuditFilter::User(_) => "user_id =",
            AuditFilter::EventType(_) => "event_type =",
            AuditFilter::Since(_) => "at >=",
            AuditFilter::Before(_) => "id <",
        }
    }
}

impl AuditQuery {
    /// The filters this query sets, in order. The backends put only these into the
    /// `WHERE` clause: the planner then sees which index serves the query, where a
    /// catch-all `(? IS NULL OR user_id = ?)` hid it and one user's few events among a
    /// million were found by reading all of them.
    pub fn filters(&self) -> Vec<AuditFilter<'_>> {
        [
            self.user.map(AuditFilter::User),
            self.event_type.as_deref().map(AuditFilter::EventType),
            self.since.map(AuditFilter::Since),
            self.before.map(AuditFilter::Before),
        ]
        .into_iter()
        .flatten()
        .collect()
    }

    /// `SELECT columns FROM audit_events WHERE <the filters> ORDER BY id DESC LIMIT <n>`,
    /// with `placeholder(i)` for the i-th value (from 1); the limit is the last value.
    pub fn sql(&self, columns: &str, placeholder: impl Fn(usize) -> String) -> String {
        let filters = self.filters();
        let mut sql = format!("SELECT {columns} FROM audit_events");
        for (i, filter) in filters.iter().enumerate() {
            let joint = if i == 0 { " WHERE " } else { " AND " };
            sql += &format!("{joint}{} {}", filter.condition(), placeholder(i + 1));
        }
        sql + &format!(" ORDER BY id DESC LIMIT {}", placeholder(filters.len() + 1))
    }
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn record(&self, event: AuditEvent, at: OffsetDateTime) -> Result<(), StoreError>;
    async fn list_events(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_filters_set_reach_the_where_clause() {
        let columns = "id";
        let pg = |i: usize| format!("${i}");
        let mut q = AuditQuery {
            limit: 50,
            ..Default::default()
        };
        assert_eq!(
            q.sql(columns, pg),
            "SELECT id FROM audit_events ORDER BY id DESC LIMIT $1"
        );
        q.user = Some(UserId::generate());
        q.before = Some(9);
        assert_eq!(
            q.sql(columns, pg),
            "SELECT id FROM audit_events WHERE user_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
        );
        q.event_type = Some("login".into());
        q.since = Some(OffsetDateTime::UNIX_EPOCH);
        assert_eq!(
            q.sql(columns, |i| format!("?{i}")),
            "SELECT id FROM audit_events WHERE user_id = ?1 AND event_type = ?2 AND at >= ?3 \
             AND id < ?4 ORDER BY id DESC LIMIT ?5"
        );
    }
}
