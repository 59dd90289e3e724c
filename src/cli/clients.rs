//! `tessera clients …` (book § Endpoints): create, list, rotate a secret, delete.

use std::sync::Arc;

use super::{connect, operator, print_json, CliError, ClientsCommand};
use crate::clock::{Clock, SystemClock};
use crate::config::Settings;
use crate::domain::{ClientSecurity, GrantType, NewClient};
use crate::service::admin::{self, ClientView};
use crate::service::grants::{TokenIssuer, TokenPolicy};
use crate::tokens::{KeyRing, KeyRingConfig};

pub(super) async fn run(command: ClientsCommand, settings: Settings) -> Result<(), CliError> {
    let writes = !matches!(command, ClientsCommand::List);
    let stores = connect(&settings, writes).await?.stores;
    match command {
        ClientsCommand::Create {
            name,
            grant,
            audience,
            scope,
            redirect_uri,
            post_logout_redirect_uri,
            public,
            first_party,
            backchannel_logout_uri,
            backchannel_logout_session_required,
            security,
        } => {
            let grant_types = grant
                .iter()
                .map(|g| {
                    g.parse::<GrantType>().map_err(|()| {
                        CliError::Invalid(format!("unknown grant {g:?}; allowed: authorization_code, password, client_credentials, refresh_token"))
                    })
                })
                .collect::<Result<Vec<_>, _>>()?;
            let new = NewClient {
                name,
                public,
                first_party,
                grant_types,
                scopes: scope,
                audiences: audience,
                redirect_uris: redirect_uri,
                post_logout_redirect_uris: post_logout_redirect_uri,
                backchannel_logout_uri,
                backchannel_logout_session_required,
                security: client_security(*security)?,
            };
            let (client, secret) = admin::create_client(&stores, new, &operator())
                .await
                .map_err(CliError::refused(""))?;
            print_json(&ClientView::new(&client, secret));
        }
        ClientsCommand::List => {
            let all = admin::all_clients(&stores)
                .await
                .map_err(CliError::refused("cannot list clients"))?;
            print_json(&serde_json::json!({ "clients": all }));
        }
        ClientsCommand::RotateSecret { id } => {
            let (client, secret) = admin::rotate_client_secret(&stores, &id, &operator())
                .await
                .map_err(CliError::refused(format!("client {id}")))?;
            print_json(&ClientView::new(&client, Some(secret)));
        }
        ClientsCommand::Delete { id } => {
            let ended = admin::delete_client(&stores, &settings, &id, &operator())
                .await
                .map_err(CliError::refused(format!("client {id}")))?;
            print_json(&serde_json::json!({ "deleted": id, "sessions_revoked": ended }));
        }
        ClientsCommand::Token { id, scope } => {
            let clock: Arc<dyn Clock> = Arc::new(SystemClock);
            let ring = KeyRing::load(
                stores.keys.clone(),
                settings.kek.clone(),
                KeyRingConfig::new(&settings),
                clock.clone(),
            )
            .await?;
            ring.ensure_keys().await?;
            let issuer = TokenIssuer::new(
                Arc::new(ring),
                clock,
                TokenPolicy::new(&settings),
                settings.kek.clone(),
            );
            let tokens =
                admin::issue_client_token(&issuer, &stores, &id, scope.as_deref(), &operator())
                    .await
                    .map_err(CliError::refused(format!("client {id}")))?;
            print_json(&tokens);
        }
    }
    Ok(())
}

/// The security settings the flags name; a JWK Set is read from its file.
fn client_security(args: super::args::SecurityArgs) -> Result<ClientSecurity, CliError> {
    let jwks = match args.jwks_file {
        Some(path) => {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| CliError::Invalid(format!("cannot read {}: {e}", path.display())))?;
            Some(
                serde_json::from_str(&text).map_err(|e| {
                    CliError::Invalid(format!("{} is not JSON: {e}", path.display()))
                })?,
            )
        }
        None => None,
    };
    Ok(ClientSecurity {
        token_endpoint_auth_method: word(
            "token_endpoint_auth_method",
            args.token_endpoint_auth_method,
        )?,
        jwks,
        jwks_uri: args.jwks_uri,
        dpop_bound_access_tokens: args.dpop_bound_access_tokens,
        require_pushed_authorization_requests: args.require_pushed_authorization_requests,
        profile: word("profile", args.profile)?,
    })
}

/// A setting named by one word (`private_key_jwt`, `fapi2`), as the client JSON spells it.
fn word<T: serde::de::DeserializeOwned>(
    what: &str,
    value: Option<String>,
) -> Result<Option<T>, CliError> {
    value
        .map(|v| {
            serde_json::from_value(serde_json::Value::String(v.clone()))
                .map_err(|_| CliError::Invalid(format!("unknown {what} {v:?}")))
        })
        .transpose()
}
