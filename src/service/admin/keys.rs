//! Signing-key actions shared by the CLI and the admin API (book § Signing keys, book § Endpoints): rotation,
//! import and emergency revocation, announced and audited.

use serde_json::json;

use crate::crypto::SigningAlg;
use crate::store::{AuditEvent, Change, KeyImport, KeyRevocation, Stores};
use crate::tokens::{KeyRing, KeyRingError};

use super::{announce, audit, ManageError, Operator};

/// Rotates every enabled algorithm, or only `alg`.
pub async fn rotate_keys(
    keyring: &KeyRing,
    stores: &Stores,
    alg: Option<&str>,
    operator: &Operator,
) -> Result<Vec<(SigningAlg, String)>, ManageError> {
    let alg = alg.map(|name| enabled_alg(keyring, name)).transpose()?;
    let rotated = keyring.rotate(alg).await?;
    rotated_keys(stores, operator, &rotated).await;
    Ok(rotated)
}

/// Imports a PEM private key (`keys/` is its mount point) as the `next` key of its
/// algorithm: published now, signing from the following rotation. Returns the kid.
pub async fn import_key(
    keyring: &KeyRing,
    stores: &Stores,
    alg: Option<&str>,
    pem: Vec<u8>,
    operator: &Operator,
) -> Result<String, ManageError> {
    let alg = alg.map(|name| enabled_alg(keyring, name)).transpose()?;
    let (kid, alg, outcome) = keyring.import(alg, pem).await.map_err(|e| match e {
        KeyRingError::Import(message) => ManageError::Invalid(message),
        other => other.into(),
    })?;
    let KeyImport::Imported { replaced } = outcome else {
        return Err(ManageError::Conflict("this key is already in the key ring"));
    };
    announce(stores, Change::Keys).await;
    let detail = json!({ "kid": kid, "alg": alg, "replaced_next": replaced });
    audit(
        stores,
        operator,
        AuditEvent::new("key_imported", "ok").detail(detail),
    )
    .await;
    Ok(kid.to_string())
}

/// Announces a rotation to the other instances and audits it (operators and the schedule).
pub async fn rotated_keys(stores: &Stores, operator: &Operator, rotated: &[(SigningAlg, String)]) {
    announce(stores, Change::Keys).await;
    let detail = json!({
        "rotated": rotated.iter().map(|(alg, kid)| json!({"alg": alg, "active_kid": kid})).collect::<Vec<_>>(),
    });
    audit(
        stores,
        operator,
        AuditEvent::new("key_rotated", "ok").detail(detail),
    )
    .await;
}

fn enabled_alg(keyring: &KeyRing, name: &str) -> Result<SigningAlg, ManageError> {
    let enabled = || {
        keyring
            .enabled_algs()
            .iter()
            .map(|a| a.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let alg: SigningAlg = name.parse().map_err(|()| {
        ManageError::Invalid(format!(
            "unsupported algorithm {name:?}; allowed: {}",
            enabled()
        ))
    })?;
    if !keyring.enabled_algs().contains(&alg) {
        return Err(ManageError::Invalid(format!(
            "{alg} is not enabled (TESSERA_SIGNING_ALGS); allowed: {}",
            enabled()
        )));
    }
    Ok(alg)
}

/// Emergency revocation of `kid`; returns the kid promoted to active, if any.
pub async fn revoke_key(
    keyring: &KeyRing,
    stores: &Stores,
    settings: &crate::config::Settings,
    kid: &str,
    operator: &Operator,
) -> Result<Option<String>, ManageError> {
    if kid.is_empty() || kid.len() > 128 {
        return Err(ManageError::NotFound);
    }
    match keyring.revoke(&kid.into()).await? {
        KeyRevocation::NotFound => Err(ManageError::NotFound),
        KeyRevocation::AlreadyRevoked => Err(ManageError::Conflict("this key is already revoked")),
        KeyRevocation::Revoked { was, promoted } => {
            announce(stores, Change::Keys).await;
            crate::service::feed::key_revoked(stores, settings, kid, operator.now).await?;
            tracing::warn!(kid, state = was.as_str(), promoted = ?promoted, "signing key revoked");
            let detail = json!({ "kid": kid, "was": was, "promoted": promoted });
            audit(
                stores,
                operator,
                AuditEvent::new("key_revoked", "ok").detail(detail),
            )
            .await;
            Ok(promoted)
        }
    }
}
