//! The export's schema, written once (book § Moving up from one machine (or back)): every
//! table it moves with its columns in import order, the migrated tables it leaves out
//! and why, and what a store that takes an import may hold. `tests/api/schema.rs` holds
//! these lists against the migrations of both SQL stores.

use super::Kind::{Bool, Bytes, Int, Int32, Json, Secs, Text, TextList, Time, Uuid};
use super::Table;

/// Every table the export moves, in the order import writes them.
pub const TABLES: &[Table] = &[
    Table {
        name: "upstream_providers",
        session_state: false,
        columns: &[
            ("id", Text, false),
            ("settings", Text, false),
            ("client_secret_sealed", Bytes, true),
            ("created_at", Time, false),
            ("updated_at", Time, false),
        ],
    },
    Table {
        name: "users",
        session_state: false,
        columns: &[
            ("id", Uuid, false),
            ("email", Text, false),
            ("email_verified", Bool, false),
            ("name", Text, true),
            ("password_hash", Text, false),
            ("created_at", Time, false),
            ("updated_at", Time, false),
        ],
    },
    Table {
        name: "upstream_identities",
        session_state: false,
        columns: &[
            ("id", Text, false),
            ("user_id", Uuid, false),
            ("provider", Text, false),
            ("subject", Text, false),
            ("email", Text, true),
            ("linked_at", Time, false),
        ],
    },
    Table {
        name: "clients",
        session_state: false,
        columns: &[
            ("id", Text, false),
            ("name", Text, false),
            ("secret_sha256", Bytes, true),
            ("public", Bool, false),
            ("first_party", Bool, false),
            ("grant_types", TextList, false),
            ("scopes", TextList, false),
            ("audiences", TextList, false),
            ("redirect_uris", TextList, false),
            ("post_logout_redirect_uris", TextList, false),
            ("id_token_signed_response_alg", Text, false),
            ("access_token_ttl_seconds", Int32, true),
            ("backchannel_logout_uri", Text, true),
            ("backchannel_logout_session_required", Bool, false),
            ("security", Json, false),
            ("created_at", Time, false),
            ("updated_at", Time, false),
        ],
    },
    Table {
        name: "signing_keys",
        session_state: false,
        columns: &[
            ("kid", Text, false),
            ("alg", Text, false),
            ("state", Text, false),
            ("private_sealed", Bytes, false),
            ("public_jwk", Json, false),
            ("created_at", Time, false),
            ("activated_at", Time, true),
            ("retiring_at", Time, true),
            ("retired_at", Time, true),
            ("revoked_at", Time, true),
        ],
    },
    Table {
        name: "user_totp",
        session_state: false,
        columns: &[
            ("user_id", Uuid, false),
            ("secret_sealed", Bytes, false),
            ("confirmed_at", Time, true),
            ("last_step", Int, false),
            ("created_at", Time, false),
        ],
    },
    Table {
        name: "recovery_codes",
        session_state: false,
        columns: &[
            ("user_id", Uuid, false),
            ("code_sha256", Bytes, false),
            ("used_at", Time, true),
        ],
    },
    Table {
        name: "passkeys",
        session_state: false,
        columns: &[
            ("id", Uuid, false),
            ("user_id", Uuid, false),
            ("credential_id", Bytes, false),
            ("name", Text, false),
            ("credential", Json, false),
            ("counter", Int, false),
            ("backed_up", Bool, false),
            ("created_at", Time, false),
            ("last_used_at", Time, true),
        ],
    },
    Table {
        name: "consents",
        session_state: false,
        columns: &[
            ("user_id", Uuid, false),
            ("client_id", Text, false),
            ("scopes", TextList, false),
            ("granted_at", Time, false),
        ],
    },
    Table {
        name: "audit_events",
        session_state: false,
        columns: &[
            ("id", Int, false),
            ("at", Time, false),
            ("event_type", Text, false),
            ("actor", Text, true),
            ("user_id", Uuid, true),
            ("client_id", Text, true),
            ("ip", Text, true),
            ("outcome", Text, false),
            ("detail", Json, false),
        ],
    },
    Table {
        name: "refresh_families",
        session_state: true,
        columns: &[
            ("id", Text, false),
            ("user_id", Uuid, false),
            ("client_id", Text, false),
            ("scope", Text, false),
            ("auth_time", Secs, false),
            ("amr", TextList, false),
            ("created_at", Secs, false),
            ("abs_exp", Secs, false),
            ("current", Bytes, true),
            ("previous", Bytes, true),
            ("rotated_at", Secs, true),
            ("last_used", Secs, false),
            ("expires_at", Time, false),
            ("ip", Text, true),
            ("user_agent", Text, true),
        ],
    },
    Table {
        name: "jti_blocklist",
        session_state: true,
        columns: &[("jti", Text, false), ("expires_at", Time, false)],
    },
    Table {
        name: "user_cutoffs",
        session_state: true,
        columns: &[
            ("user_id", Uuid, false),
            ("cutoff", Time, false),
            ("expires_at", Time, false),
        ],
    },
];

/// The migrated tables the export leaves out on purpose, with why; `tests/api/schema.rs`
/// fails when a migration adds a table that is in neither this list nor `TABLES`, or a
/// column `TABLES` does not name, so the export cannot silently fall behind the schema.
pub const NOT_MOVED: &[(&str, &str)] = &[
    (
        "password_resets",
        "reset links live minutes; users ask again",
    ),
    (
        "email_links",
        "verification and change links; users ask for a new one",
    ),
    (
        "authorization_codes",
        "codes live a minute; clients start again",
    ),
    ("sso_sessions", "browser sign-ins; users sign in again"),
    (
        "sso_families",
        "the link from a browser sign-in to its refresh families",
    ),
    (
        "revocation_feed",
        "feeds start over under a new store epoch",
    ),
    ("store_meta", "the store epoch, renewed by every import"),
    (
        "outbox",
        "messages in flight (links that do not move either, logouts for sessions that do): deliver before exporting",
    ),
    (
        "keyring_version",
        "a change counter the importing store keeps its own of",
    ),
    (
        "refinery_schema_history",
        "the migrations the store itself applied",
    ),
];

/// What a store that can take an import may not hold: anything but the bootstrap client.
pub const HOLDINGS: [(&str, &str); 16] = [
    ("upstream_providers", ""),
    ("users", ""),
    ("upstream_identities", ""),
    ("passkeys", ""),
    ("consents", ""),
    ("clients", " WHERE id <> 'spa'"),
    ("signing_keys", ""),
    ("user_totp", ""),
    ("recovery_codes", ""),
    ("audit_events", ""),
    ("password_resets", ""),
    ("email_links", ""),
    ("outbox", ""),
    ("refresh_families", ""),
    ("jti_blocklist", ""),
    ("user_cutoffs", ""),
];
