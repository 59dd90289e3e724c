//! `tessera users …` (book § Configuration, book § Endpoints): create, import, unlock, end every session.

use super::{connect, operator, print_json, read, CliError, UsersCommand};
use crate::auth::hashing::PasswordHasher;
use crate::config::Settings;
use crate::domain::Password;
use crate::domain::UserId;
use crate::service::admin;

pub(super) async fn run(command: UsersCommand, settings: Settings) -> Result<(), CliError> {
    let stores = connect(&settings, true).await?.stores;
    match command {
        UsersCommand::Create { email, .. } => {
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .map_err(|e| CliError::Invalid(format!("cannot read the password: {e}")))?;
            let password = Password::new(password.trim_end_matches(['\r', '\n']).to_owned());
            let hasher = PasswordHasher::start(settings.password.hash, 1, 1)
                .map_err(|e| CliError::Invalid(e.to_string()))?;
            let request = crate::service::accounts::AccountRequest {
                email,
                password,
                name: None,
                email_verified: false,
                ip: None,
            };
            let user = admin::create_user(
                &stores,
                &hasher,
                request,
                settings.password.min_bytes,
                &operator(),
            )
            .await
            .map_err(CliError::refused(""))?;
            println!("{}", serde_json::json!({ "id": user.id }));
        }
        UsersCommand::Import { file } => {
            let text = String::from_utf8(read(&file)?)
                .map_err(|_| CliError::Invalid(format!("{} is not UTF-8 text", file.display())))?;
            let report = admin::import_users(&stores, &text, &operator()).await;
            print_json(&report);
            if !report.errors.is_empty() {
                return Err(CliError::NotImported(report.errors.len()));
            }
        }
        UsersCommand::Unlock { id } => {
            admin::unlock_user(&stores, user_id(&id)?, &operator())
                .await
                .map_err(CliError::refused(format!("user {id}")))?;
            print_json(&serde_json::json!({ "unlocked": id }));
        }
        UsersCommand::RevokeSessions { id } => {
            let ended = admin::end_user(
                &stores,
                &settings,
                user_id(&id)?,
                admin::Ending::Sessions,
                &operator(),
            )
            .await
            .map_err(CliError::refused(format!("user {id}")))?;
            print_json(&serde_json::json!({ "user": id, "sessions_revoked": ended }));
        }
    }
    Ok(())
}

fn user_id(id: &str) -> Result<UserId, CliError> {
    id.parse()
        .map_err(|_| CliError::Invalid(format!("{id:?} is not a user id (UUID)")))
}
