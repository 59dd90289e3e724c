//! Reading the audit trail (book § Endpoints) for operators.

use crate::store::{AuditQuery, AuditRecord, Stores};

use super::ManageError;

/// The events matching `query`, newest first.
pub async fn audit_events(
    stores: &Stores,
    query: &AuditQuery,
) -> Result<Vec<AuditRecord>, ManageError> {
    Ok(stores.audit.list_events(query).await?)
}
