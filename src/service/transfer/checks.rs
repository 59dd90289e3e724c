//! What import checks in the rows of an authenticated stream before writing anything
//! (book § Moving up from one machine (or back)): every sealed item opens with this KEK, every signing key's published
//! part is the one its sealed private key derives, and users and clients pass the same
//! validation as when they are created.

use crate::auth::hashing::importable_hash;
use crate::crypto::{Kek, KeyMaterial, Purpose, SigningAlg};
use crate::domain::{ClientId, Email, GrantType, NewClient};
use crate::service::admin::validate_client;
use crate::store::transfer::{Cell, Row};

use super::ImportError;

/// A row's sealed item, if it has one, must open with `kek` before anything is written.
pub(super) fn kek_opens(kek: &Kek, row: &Row) -> Result<(), ImportError> {
    let (purpose, sealed, aad, item) = match row.table.name {
        "signing_keys" => {
            let kid = row.get("kid").as_text().unwrap_or_default();
            (
                Purpose::SigningKey,
                row.get("private_sealed"),
                kid.as_bytes().to_vec(),
                format!("signing key {kid}"),
            )
        }
        "user_totp" => {
            let user = row.get("user_id").as_uuid().unwrap_or_default();
            (
                Purpose::TotpSecret,
                row.get("secret_sealed"),
                user.as_bytes().to_vec(),
                format!("the TOTP secret of user {user}"),
            )
        }
        "upstream_providers" if row.get("client_secret_sealed").as_bytes().is_some() => {
            let id = row.get("id").as_text().unwrap_or_default();
            (
                Purpose::ProviderSecret,
                row.get("client_secret_sealed"),
                id.as_bytes().to_vec(),
                format!("the client secret of provider {id}"),
            )
        }
        _ => return Ok(()),
    };
    let opened = sealed.as_bytes().map(|s| kek.open(purpose, s, &aad));
    match opened {
        Some(Ok(_)) => Ok(()),
        _ => Err(ImportError::Kek { item }),
    }
}

/// Checks a row that has rules of its own.
pub(super) fn row_is_valid(kek: &Kek, row: &Row) -> Result<(), ImportError> {
    let checked = match row.table.name {
        "signing_keys" => signing_key(kek, row),
        "clients" => client(row),
        "users" => user(row),
        "upstream_providers" => provider(row),
        _ => Ok(()),
    };
    checked.map_err(ImportError::Invalid)
}

/// A provider's id and settings pass the checks of the admin API.
fn provider(row: &Row) -> Result<(), String> {
    let id = row.get("id").as_text().unwrap_or_default();
    let refused = |why: String| format!("provider {id}: {why}");
    crate::domain::ProviderId::parse(id).map_err(|e| refused(e.into()))?;
    let settings: crate::domain::ProviderSettings =
        serde_json::from_str(row.get("settings").as_text().unwrap_or_default())
            .map_err(|e| refused(format!("settings: {e}")))?;
    let problems = settings.problems();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(refused(problems.join("; ")))
    }
}

/// The stored public JWK and kid must be exactly what the sealed private key derives.
fn signing_key(kek: &Kek, row: &Row) -> Result<(), String> {
    let kid = row.get("kid").as_text().unwrap_or_default();
    let refused = |why: &str| format!("signing key {kid}: {why}");
    let alg: SigningAlg = row
        .get("alg")
        .as_text()
        .unwrap_or_default()
        .parse()
        .map_err(|_| refused("unknown alg"))?;
    let der = row
        .get("private_sealed")
        .as_bytes()
        .and_then(|s| kek.open(Purpose::SigningKey, s, kid.as_bytes()).ok())
        .map(zeroize::Zeroizing::new)
        .ok_or_else(|| refused("the sealed private key does not open"))?;
    let material = KeyMaterial::from_private_der(alg, &der)
        .map_err(|_| refused("the sealed private key is not a key for its alg"))?;
    if material.kid.as_str() != kid {
        return Err(refused("its kid is not the thumbprint of its private key"));
    }
    match row.get("public_jwk") {
        Cell::Json(serde_json::Value::Object(jwk)) if *jwk == material.public_jwk => Ok(()),
        _ => Err(refused(
            "its public key is not the one its sealed private key derives",
        )),
    }
}

fn client(row: &Row) -> Result<(), String> {
    let id = row.get("id").as_text().unwrap_or_default();
    let refused = |why: String| format!("client {id}: {why}");
    ClientId::parse(id).map_err(|e| refused(e.into()))?;
    let list = |name| match row.get(name) {
        Cell::TextList(items) => items.clone(),
        _ => Vec::new(),
    };
    let flag = |name| matches!(row.get(name), Cell::Bool(true));
    let grant_types = list("grant_types")
        .iter()
        .map(|g| g.parse::<GrantType>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|()| refused("an unknown grant type".into()))?;
    let new = NewClient {
        name: row.get("name").as_text().unwrap_or_default().to_owned(),
        public: flag("public"),
        first_party: flag("first_party"),
        grant_types,
        scopes: list("scopes"),
        audiences: list("audiences"),
        redirect_uris: list("redirect_uris"),
        post_logout_redirect_uris: list("post_logout_redirect_uris"),
        backchannel_logout_uri: row
            .get("backchannel_logout_uri")
            .as_text()
            .map(str::to_owned),
        backchannel_logout_session_required: flag("backchannel_logout_session_required"),
        security: match row.get("security") {
            Cell::Json(value) => serde_json::from_value(value.clone())
                .map_err(|e| refused(format!("unreadable security settings: {e}")))?,
            _ => Default::default(),
        },
    };
    validate_client(&new).map_err(|problems| refused(problems.join("; ")))?;
    let secret = row.get("secret_sha256").as_bytes().map(<[u8]>::len);
    match (new.public, secret) {
        (true, None) | (false, Some(32)) => {}
        (true, Some(_)) => return Err(refused("a public client has no secret".into())),
        (false, _) => {
            return Err(refused(
                "a confidential client needs a 32-byte secret_sha256".into(),
            ))
        }
    }
    row.get("id_token_signed_response_alg")
        .as_text()
        .unwrap_or_default()
        .parse::<SigningAlg>()
        .map_err(|_| refused("unknown id_token_signed_response_alg".into()))?;
    Ok(())
}

fn user(row: &Row) -> Result<(), String> {
    let email = row.get("email").as_text().unwrap_or_default();
    let id = row.get("id").as_uuid().unwrap_or_default();
    if Email::parse(email).map(|e| e.as_str() == email) != Ok(true) {
        return Err(format!("user {id}: the email is not a normalized address"));
    }
    let hash = row.get("password_hash").as_text().unwrap_or_default();
    importable_hash(hash).map_err(|why| format!("user {id}: password_hash: {why}"))
}
