//! The command line (book § Command line): `serve`, `migrate`, `openapi` and the operator commands
//! for keys, clients and users. Parsing only; `cli::run` does the work.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(
    name = "tessera",
    version,
    about = "OAuth 2 / OpenID Connect token issuer"
)]
pub struct Cli {
    /// Optional TOML configuration file; TESSERA_* environment variables override it.
    #[arg(long, global = true, env = "TESSERA_CONFIG")]
    pub config: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the public and admin listeners (migrates first unless TESSERA_MIGRATE_ON_START=false).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Write a consistent copy of the embedded store to FILE while `serve` runs (restore:
    /// stop, put the copy in place as `<data dir>/tessera.db`, keep the `kek` file).
    Backup {
        /// The copy to write; it must not exist yet.
        file: PathBuf,
    },
    /// Write everything the store holds as JSON lines on stdout: users with their hashes,
    /// clients, keys (still sealed: keep the KEK), MFA, the audit trail, live sessions,
    /// blocklisted tokens and cut-offs. Works while `serve` runs.
    Export,
    /// Read an export into a migrated store that holds nothing but the bootstrap `spa`
    /// client (which the imported one replaces). Needs the exporting store's KEK. The
    /// stream is checked whole before anything is written, with memory that does not grow
    /// with it: a stdin stream is copied to an unnamed file in TMPDIR on the way.
    Import {
        /// The export to read (default: stdin).
        file: Option<PathBuf>,
    },
    /// Print the OpenAPI document.
    Openapi {
        /// The admin listener's document (`openapi/admin.json`) instead of the public one.
        #[arg(long)]
        admin: bool,
    },
    /// Inspect or rotate signing keys.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Manage OAuth clients.
    Clients {
        #[command(subcommand)]
        command: ClientsCommand,
    },
    /// Manage upstream identity providers.
    Providers {
        #[command(subcommand)]
        command: ProvidersCommand,
    },
    /// Manage users.
    Users {
        #[command(subcommand)]
        command: UsersCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum ProvidersCommand {
    /// Register a provider from its JSON document (the admin API's `POST /admin/providers`
    /// body) in FILE, or on standard input; prints it (never its secret).
    Add { file: Option<std::path::PathBuf> },
    /// List providers (JSON).
    List,
    /// Remove a provider.
    Delete { id: String },
}

#[derive(Debug, Subcommand)]
pub enum ClientsCommand {
    /// Create a client; prints its JSON, with the secret (shown once) for confidential clients.
    Create {
        #[arg(long, env = "TESSERA_CLIENT_NAME")]
        name: String,
        /// Allowed grant (repeatable): password, client_credentials, refresh_token.
        #[arg(
            long,
            required = true,
            env = "TESSERA_CLIENT_GRANTS",
            value_delimiter = ','
        )]
        grant: Vec<String>,
        #[arg(long, env = "TESSERA_CLIENT_AUDIENCES", value_delimiter = ',')]
        audience: Vec<String>,
        #[arg(long, env = "TESSERA_CLIENT_SCOPES", value_delimiter = ',')]
        scope: Vec<String>,
        #[arg(long, env = "TESSERA_CLIENT_REDIRECT_URIS", value_delimiter = ',')]
        redirect_uri: Vec<String>,
        /// Where RP-initiated logout may send users afterwards (repeatable).
        #[arg(
            long,
            env = "TESSERA_CLIENT_POST_LOGOUT_REDIRECT_URIS",
            value_delimiter = ','
        )]
        post_logout_redirect_uri: Vec<String>,
        /// A public client (no secret).
        #[arg(long, env = "TESSERA_CLIENT_PUBLIC")]
        public: bool,
        /// A first-party client (may use the password grant).
        #[arg(long, env = "TESSERA_CLIENT_FIRST_PARTY")]
        first_party: bool,
        /// Where tessera POSTs a logout token when one of the client's sessions ends
        /// (https, or http on loopback; confidential clients only).
        #[arg(long, env = "TESSERA_CLIENT_BACKCHANNEL_LOGOUT_URI")]
        backchannel_logout_uri: Option<String>,
        /// The client needs `sid` in logout tokens (tessera always sends it).
        #[arg(long, env = "TESSERA_CLIENT_BACKCHANNEL_LOGOUT_SESSION_REQUIRED")]
        backchannel_logout_session_required: bool,
        #[command(flatten)]
        security: Box<SecurityArgs>,
    },
    /// List clients (JSON).
    List,
    /// Issue a new secret (printed once); the old one stops working.
    RotateSecret {
        /// The client id.
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
    /// Delete a client and end every session issued to it.
    Delete {
        /// The client id.
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
    /// Print an access token for a confidential client, as its client_credentials grant
    /// would issue it, without its secret (audited as `cli`).
    Token {
        /// The client id.
        #[arg(allow_hyphen_values = true)]
        id: String,
        /// The scope to request (space-separated); default: the client's scopes.
        #[arg(long)]
        scope: Option<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create a user; the password is read from standard input.
    Create {
        #[arg(long, env = "TESSERA_USER_EMAIL")]
        email: String,
        #[arg(long, required = true, env = "TESSERA_USER_PASSWORD_STDIN")]
        password_stdin: bool,
    },
    /// Import users from JSON lines with bcrypt or argon2 hashes.
    Import {
        /// The .jsonl file.
        file: PathBuf,
    },
    /// Clear a user's failed-login count and lock.
    Unlock {
        /// The user id (UUID).
        id: String,
    },
    /// End every session of a user and invalidate their access tokens.
    RevokeSessions {
        /// The user id (UUID).
        id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List the signing keys (JSON).
    List,
    /// Promote each algorithm's next key to active and generate a new next key.
    Rotate {
        /// Rotate only this algorithm (ES256, EdDSA, RS256, PS256).
        #[arg(long, env = "TESSERA_ROTATE_ALG")]
        alg: Option<String>,
    },
    /// Import a PEM private key as the next key of its algorithm (signs from the next rotation).
    Import {
        /// The PEM file (PKCS#8, SEC1 or PKCS#1), e.g. keys/signing.pem.
        file: PathBuf,
        /// The algorithm (default: from the key type; RSA keys default to RS256).
        #[arg(long, env = "TESSERA_IMPORT_ALG")]
        alg: Option<String>,
    },
    /// Re-seal every private key and TOTP secret under a new KEK (TESSERA_NEW_KEK or
    /// TESSERA_NEW_KEK_FILE), in one transaction; then restart every instance with it.
    Rewrap,
    /// Emergency revocation: unpublish a key at once and reject its tokens.
    Revoke {
        /// The key id (a thumbprint: it may start with `-`).
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

/// How a new client proves itself and holds its tokens (book § DPoP and PAR).
#[derive(Debug, clap::Args)]
pub struct SecurityArgs {
    /// `client_secret_basic` (default), `client_secret_post`, `private_key_jwt` or `none`.
    #[arg(long)]
    pub token_endpoint_auth_method: Option<String>,
    /// A file holding the `private_key_jwt` client's public keys (a JWK Set).
    #[arg(long)]
    pub jwks_file: Option<std::path::PathBuf>,
    /// Where tessera reads the `private_key_jwt` client's public keys.
    #[arg(long)]
    pub jwks_uri: Option<String>,
    /// Every token request must carry a DPoP proof.
    #[arg(long)]
    pub dpop_bound_access_tokens: bool,
    /// Authorization requests must be pushed (`POST /oauth2/par`).
    #[arg(long)]
    pub require_pushed_authorization_requests: bool,
    /// `fapi2`: the FAPI 2.0 Security Profile.
    #[arg(long)]
    pub profile: Option<String>,
}
