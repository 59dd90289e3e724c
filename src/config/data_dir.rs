//! The embedded mode's data directory (book § Run the service): created `0700` on first use; the KEK and,
//! without `TESSERA_ADMIN_TOKENS`, an admin token are generated into it (`0600`) and reused
//! on later starts. A configured `TESSERA_KEK` that differs from the stored one is refused.

use std::fs::{DirBuilder, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use super::fields::AdminToken;
use super::ConfigError;
use crate::crypto::Kek;

/// The embedded store's database file inside the data directory.
pub const DATABASE_FILE: &str = "tessera.db";

/// What the data directory provided, for the start-up log (names files, never contents).
#[derive(Debug, Clone)]
pub struct DataDir {
    pub dir: PathBuf,
    /// The database file.
    pub database: PathBuf,
    /// Files this start created.
    pub created: Vec<PathBuf>,
    /// Where the admin token is, when it came from the data directory.
    pub admin_token_file: Option<PathBuf>,
}

fn problem(key: &str, message: String) -> ConfigError {
    ConfigError {
        key: super::source::env_name(key),
        message,
    }
}

/// Creates the directory if needed and checks that it is one we can write.
fn directory(dir: &Path) -> Result<(), ConfigError> {
    let shown = dir.display();
    if dir.exists() && !dir.is_dir() {
        return Err(problem("data_dir", format!("{shown} is not a directory")));
    }
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| problem("data_dir", format!("cannot create {shown}: {}", e.kind())))?;
    let probe = dir.join(".write-test");
    std::fs::write(&probe, b"")
        .and_then(|()| std::fs::remove_file(&probe))
        .map_err(|e| problem("data_dir", format!("{shown} is not writable: {}", e.kind())))
}

/// Writes a new secret file (`0600`), never over an existing one.
fn write_new(path: &Path, text: &str) -> Result<(), ConfigError> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| {
            problem(
                "data_dir",
                format!("cannot create {}: {}", path.display(), e.kind()),
            )
        })?;
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| {
            problem(
                "data_dir",
                format!("cannot write {}: {}", path.display(), e.kind()),
            )
        })
}

fn random(bytes: usize) -> Vec<u8> {
    let mut out = vec![0u8; bytes];
    rand::rngs::OsRng.fill_bytes(&mut out);
    out
}

/// The KEK: the stored one (which a configured one must equal), else the configured one or
/// a new one, written to `<dir>/kek`.
fn kek(
    dir: &Path,
    configured: Option<Kek>,
    created: &mut Vec<PathBuf>,
) -> Result<Kek, ConfigError> {
    let path = dir.join("kek");
    if path.exists() {
        let text = std::fs::read_to_string(&path).map_err(|e| {
            problem(
                "data_dir",
                format!("cannot read {}: {}", path.display(), e.kind()),
            )
        })?;
        let stored = Kek::from_base64(&text)
            .map_err(|reason| problem("data_dir", format!("{} {reason}", path.display())))?;
        return match configured {
            Some(kek) if !kek.same_as(&stored) => Err(problem(
                "kek",
                format!(
                    "differs from the KEK in {}; unset TESSERA_KEK (and TESSERA_KEK_FILE) to use the stored one, or move that directory away",
                    path.display()
                ),
            )),
            _ => Ok(stored),
        };
    }
    // a configured KEK is kept in the directory too, so that it stands on its own (a later
    // start, a backup or an import target without TESSERA_KEK opens the same keys)
    let kek = match configured {
        Some(kek) => kek,
        None => Kek::from_base64(&STANDARD.encode(random(32)))
            .map_err(|reason| problem("kek", reason))?,
    };
    write_new(&path, &format!("{}\n", kek.to_base64().as_str()))?;
    created.push(path);
    Ok(kek)
}

/// The admin token kept in `<dir>/admin-token`, created when absent.
fn admin_token(
    dir: &Path,
    created: &mut Vec<PathBuf>,
) -> Result<(AdminToken, PathBuf), ConfigError> {
    let path = dir.join("admin-token");
    let token = if path.exists() {
        let text = std::fs::read_to_string(&path).map_err(|e| {
            problem(
                "data_dir",
                format!("cannot read {}: {}", path.display(), e.kind()),
            )
        })?;
        let token = text.trim().to_owned();
        if token.len() < 32 {
            return Err(problem(
                "data_dir",
                format!(
                    "{} must hold a token of at least 32 characters",
                    path.display()
                ),
            ));
        }
        token
    } else {
        let token = URL_SAFE_NO_PAD.encode(random(32));
        write_new(&path, &format!("{token}\n"))?;
        created.push(path.clone());
        token
    };
    let sha256: [u8; 32] = Sha256::digest(token.as_bytes()).into();
    Ok((AdminToken::new("data-dir".into(), sha256), path))
}

/// Prepares `dir` for the embedded store: returns the KEK, the admin token when none is
/// configured, and what was found or created.
pub(super) fn prepare(
    dir: &Path,
    configured_kek: Option<Kek>,
    need_admin_token: bool,
) -> Result<(Kek, Option<AdminToken>, DataDir), ConfigError> {
    directory(dir)?;
    let mut created = Vec::new();
    let kek = kek(dir, configured_kek, &mut created)?;
    let (token, admin_token_file) = if need_admin_token {
        let (token, path) = admin_token(dir, &mut created)?;
        (Some(token), Some(path))
    } else {
        (None, None)
    };
    let info = DataDir {
        dir: dir.to_owned(),
        database: dir.join(DATABASE_FILE),
        created,
        admin_token_file,
    };
    Ok((kek, token, info))
}
