//! `tessera providers …` (book § Upstream providers): register a provider from its JSON
//! document, list them, remove one.

use std::io::Read;

use super::{connect, operator, print_json, CliError, ProvidersCommand};
use crate::config::Settings;
use crate::service::admin::{self, ProviderDocument, ProviderView};

/// The longest provider document read.
const MAX_DOCUMENT: u64 = 64 * 1024;

pub(super) async fn run(command: ProvidersCommand, settings: Settings) -> Result<(), CliError> {
    let writes = !matches!(command, ProvidersCommand::List);
    let stores = connect(&settings, writes).await?.stores;
    match command {
        ProvidersCommand::Add { file } => {
            let mut text = String::new();
            let read = match &file {
                Some(path) => std::fs::File::open(path)
                    .and_then(|f| f.take(MAX_DOCUMENT).read_to_string(&mut text)),
                None => std::io::stdin()
                    .take(MAX_DOCUMENT)
                    .read_to_string(&mut text),
            };
            read.map_err(|e| CliError::Invalid(format!("cannot read the provider document: {e}")))?;
            let body = serde_json::from_str(&text).map_err(|e| {
                CliError::Invalid(format!("the provider document is not a JSON object: {e}"))
            })?;
            let document = ProviderDocument::parse(body).map_err(CliError::refused("provider"))?;
            let provider = admin::create_provider(&stores, &settings.kek, document, &operator())
                .await
                .map_err(CliError::refused("provider"))?;
            print_json(&ProviderView::from(&provider));
        }
        ProvidersCommand::List => {
            let all = admin::list_providers(&stores)
                .await
                .map_err(CliError::refused("cannot list providers"))?;
            let views: Vec<ProviderView> = all.iter().map(ProviderView::from).collect();
            print_json(&serde_json::json!({ "providers": views }));
        }
        ProvidersCommand::Delete { id } => {
            admin::delete_provider(&stores, &id, &operator())
                .await
                .map_err(CliError::refused(format!("provider {id}")))?;
            print_json(&serde_json::json!({ "deleted": id }));
        }
    }
    Ok(())
}
