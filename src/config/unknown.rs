//! Keys no setting asked for (book § Configuration): a typo such as `TESSERA_ACCES_TOKEN_TTL` is
//! reported with the closest known name instead of being ignored.

use super::source::env_name;

/// `TESSERA_*` variables that are command-line flags (clap reads them), not settings.
const CLI_FLAGS: [&str; 13] = [
    "config",
    "client_audiences",
    "client_first_party",
    "client_grants",
    "client_name",
    "client_post_logout_redirect_uris",
    "client_public",
    "client_redirect_uris",
    "client_scopes",
    "import_alg",
    "rotate_alg",
    "user_email",
    "user_password_stdin",
];

/// A message for every key in `leftover` that is neither a setting nor a command-line flag,
/// naming the closest of `known` when one is near enough to be a typo of it.
pub(super) fn report(
    leftover: impl Iterator<Item = String>,
    known: &[String],
) -> Vec<(String, String)> {
    leftover
        .filter(|key| !CLI_FLAGS.contains(&key.as_str()))
        .map(|key| {
            let closest = known
                .iter()
                .map(|k| (strsim::levenshtein(k, &key), k))
                .filter(|(distance, _)| *distance <= key.len().max(6) / 3)
                .min();
            let message = match closest {
                Some((_, k)) => format!("is not a setting; did you mean {}?", env_name(k)),
                None => "is not a setting tessera knows (see the book, Configuration)".into(),
            };
            (key, message)
        })
        .collect()
}
