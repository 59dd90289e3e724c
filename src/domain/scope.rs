//! OAuth scopes (RFC 6749 §3.3): space-delimited, order-insensitive, no duplicates.

use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Scope(BTreeSet<String>);

const MAX_SCOPE_TOKEN: usize = 64;

impl Scope {
    /// Parses `scope` (RFC 6749 scope-token syntax: printable ASCII without space, `"` or `\`).
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let mut set = BTreeSet::new();
        for token in input.split(' ').filter(|t| !t.is_empty()) {
            let valid = token.len() <= MAX_SCOPE_TOKEN
                && token
                    .bytes()
                    .all(|b| b == 0x21 || (0x23..=0x5B).contains(&b) || (0x5D..=0x7E).contains(&b));
            if !valid {
                return Err("scope contains an invalid scope token");
            }
            set.insert(token.to_owned());
        }
        Ok(Scope(set))
    }

    pub fn from_list(items: &[String]) -> Self {
        Scope(items.iter().cloned().collect())
    }

    pub fn contains(&self, token: &str) -> bool {
        self.0.contains(token)
    }

    pub fn is_subset(&self, of: &Scope) -> bool {
        self.0.is_subset(&of.0)
    }

    /// This scope less the given tokens.
    pub fn without(mut self, tokens: &[&str]) -> Self {
        self.0.retain(|t| !tokens.contains(&t.as_str()));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.iter().collect::<Vec<_>>().join(" "))
    }
}
