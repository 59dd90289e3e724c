//! Configuration sources (book § Configuration): built-in defaults, optional TOML file, `TESSERA_*` env.
//!
//! Every value is read as text into one flat map; `Settings::from_map` parses and validates
//! it, so that a type error in one key is reported together with every other bad key.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use figment::providers::{Env, Format, Toml};
use figment::Figment;
use serde::de::{self, Deserialize, Deserializer, SeqAccess, Visitor};

/// Raw settings: lower-case key (`issuer`, `database_url`) to its textual value.
pub type RawSettings = BTreeMap<String, RawValue>;

/// A scalar (or list of scalars) from any source, kept as text.
#[derive(Clone, PartialEq, Eq)]
pub struct RawValue(pub String);

impl fmt::Debug for RawValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // raw values may be secrets (KEK, URLs with passwords): never print them
        f.write_str("RawValue(..)")
    }
}

impl<'de> Deserialize<'de> for RawValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(RawVisitor).map(RawValue)
    }
}

struct RawVisitor;

impl<'de> Visitor<'de> for RawVisitor {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a string, number, boolean or list of those")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_char<E: de::Error>(self, v: char) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<String, A::Error> {
        let mut items = Vec::new();
        while let Some(RawValue(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(items.join(","))
    }
}

/// Variables read without the `TESSERA_` prefix (book § Command line).
const UNPREFIXED: [&str; 4] = [
    "DATABASE_URL",
    "REDIS_URL",
    "DATABASE_URL_FILE",
    "REDIS_URL_FILE",
];

/// Loads the TOML file (if any) and then the process environment, later wins.
pub fn load(config_file: Option<&Path>) -> Result<RawSettings, String> {
    let mut figment = Figment::new();
    if let Some(path) = config_file {
        if !path.is_file() {
            return Err(format!("config file {} does not exist", path.display()));
        }
        figment = figment.merge(Toml::file(path));
    }
    figment = figment
        .merge(Env::prefixed("TESSERA_").ignore(&["config"]))
        .merge(Env::raw().only(&UNPREFIXED));
    figment
        .extract::<RawSettings>()
        .map_err(|e| format!("could not read configuration: {e}"))
}

/// The name an operator sees for a key: its environment variable.
pub fn env_name(key: &str) -> String {
    let upper = key.to_ascii_uppercase();
    if UNPREFIXED.contains(&upper.as_str()) {
        upper
    } else {
        format!("TESSERA_{upper}")
    }
}
