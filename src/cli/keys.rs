//! `tessera keys …` (book § Signing keys): list, rotate, import, revoke, and re-seal under a new KEK.

use std::sync::Arc;

use super::{connect, operator, print_json, read, CliError, KeysCommand};
use crate::clock::SystemClock;
use crate::config::Settings;
use crate::service::admin;
use crate::tokens::{KeyRing, KeyRingConfig};

pub(super) async fn run(command: KeysCommand, settings: Settings) -> Result<(), CliError> {
    if let KeysCommand::Rewrap = command {
        return rewrap(settings).await;
    }
    let writes = !matches!(command, KeysCommand::List);
    let backend = connect(&settings, writes).await?;
    let stores = backend.stores;
    let ring = KeyRing::load(
        stores.keys.clone(),
        settings.kek.clone(),
        KeyRingConfig::new(&settings),
        Arc::new(SystemClock),
    )
    .await?;
    if writes {
        ring.ensure_keys().await?;
    }
    match command {
        KeysCommand::List | KeysCommand::Rewrap => {}
        KeysCommand::Rotate { alg } => {
            let rotated = admin::rotate_keys(&ring, &stores, alg.as_deref(), &operator())
                .await
                .map_err(CliError::refused("rotation failed"))?;
            for (alg, kid) in rotated {
                eprintln!("tessera: {alg} now signs with {kid}");
            }
        }
        KeysCommand::Import { file, alg } => {
            let pem = read(&file)?;
            let kid = admin::import_key(&ring, &stores, alg.as_deref(), pem, &operator())
                .await
                .map_err(CliError::refused("import failed"))?;
            eprintln!("tessera: imported {kid} as the next key; it signs after the next rotation");
        }
        KeysCommand::Revoke { kid } => {
            let promoted = admin::revoke_key(&ring, &stores, &settings, &kid, &operator())
                .await
                .map_err(CliError::refused(format!("revocation of {kid} failed")))?;
            eprintln!("tessera: {kid} revoked");
            if let Some(active) = promoted {
                eprintln!("tessera: {active} now signs in its place");
            }
        }
    }
    print_json(&serde_json::json!({ "keys": ring.keys() }));
    Ok(())
}

/// No migration and no key generation: only what is stored is re-sealed.
async fn rewrap(settings: Settings) -> Result<(), CliError> {
    let new = settings.new_kek.as_ref().ok_or_else(|| CliError::Invalid(
        "keys rewrap needs the new KEK in TESSERA_NEW_KEK or TESSERA_NEW_KEK_FILE (base64 of 32 random bytes)".into(),
    ))?;
    if new.same_as(&settings.kek) {
        return Err(CliError::Invalid(
            "TESSERA_NEW_KEK is the KEK in use; nothing to do".into(),
        ));
    }
    let backend = connect(&settings, false).await?;
    let report = crate::service::rewrap::rewrap(backend.stores.sealed.as_ref(), &settings.kek, new)
        .await
        .map_err(CliError::Rewrap)?;
    eprintln!(
        "tessera: re-sealed under the new KEK; restart every instance with it as TESSERA_KEK"
    );
    print_json(&report);
    Ok(())
}
