//! How a sign-in proved who the user is: its `amr` values (RFC 8176) and, for a sign-in
//! through an upstream provider (book § Upstream providers), the provider's id, the
//! tokens' `idp`.
//!
//! A session keeps both in one list, the `amr` it stores anyway: the provider rides as one
//! entry `idp:<id>`, which [`split`] takes out again wherever the list becomes claims. The
//! same list carries the DPoP key (RFC 9449) a code or a public client's session is bound
//! to, as `jkt:<thumbprint>`; [`split`] leaves it out and [`bound_key`] reads it.

use super::ProviderId;

/// The `amr` value of a federated sign-in (RFC 8176 §2).
pub const FEDERATED: &str = "fed";

const IDP: &str = "idp:";
const JKT: &str = "jkt:";

/// The values RFC 8176 §2 registers: the only upstream `amr` values passed on.
const REGISTERED: [&str; 21] = [
    "face", "fed", "fpt", "geo", "hwk", "iris", "kba", "mca", "mfa", "otp", "pin", "pop", "pwd",
    "rba", "retina", "sc", "sms", "swk", "tel", "user", "vbm",
];

/// What an upstream sign-in stores: `fed`, the upstream's registered `amr` values, and the
/// provider.
pub fn federated(provider: &ProviderId, upstream: &[String]) -> Vec<String> {
    let mut amr = vec![FEDERATED.to_owned()];
    for value in upstream {
        if REGISTERED.contains(&value.as_str()) && !amr.contains(value) {
            amr.push(value.clone());
        }
    }
    amr.push(format!("{IDP}{provider}"));
    amr
}

/// A stored list as claims: the `amr` values, and the provider (`idp`) if there was one.
pub fn split(stored: &[String]) -> (Vec<String>, Option<String>) {
    let mut idp = None;
    let mut amr = Vec::with_capacity(stored.len());
    for value in stored {
        match value.strip_prefix(IDP) {
            Some(provider) => idp = Some(provider.to_owned()),
            None if value.starts_with(JKT) => {}
            None => amr.push(value.clone()),
        }
    }
    (amr, idp)
}

/// The DPoP key thumbprint the list binds to, if any.
pub fn bound_key(stored: &[String]) -> Option<&str> {
    stored.iter().find_map(|v| v.strip_prefix(JKT))
}

/// The list bound to `jkt` (or to no key): any earlier binding is replaced.
pub fn bind_key(stored: &[String], jkt: Option<&str>) -> Vec<String> {
    let mut list: Vec<String> = stored
        .iter()
        .filter(|v| !v.starts_with(JKT))
        .cloned()
        .collect();
    list.extend(jkt.map(|k| format!("{JKT}{k}")));
    list
}

/// Whether an upstream's `amr` shows a second factor: `mfa`, or two distinct methods.
pub fn shows_second_factor(upstream: &[String]) -> bool {
    let mut methods: Vec<&str> = upstream
        .iter()
        .map(String::as_str)
        .filter(|m| REGISTERED.contains(m) && *m != FEDERATED)
        .collect();
    methods.sort_unstable();
    methods.dedup();
    methods.contains(&"mfa") || methods.len() >= 2
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(values: &[&str]) -> Vec<String> {
        values.iter().map(|v| (*v).to_owned()).collect()
    }

    #[test]
    fn the_provider_rides_in_the_list_and_comes_out_as_idp() {
        let corp = ProviderId::parse("corp").unwrap();
        let stored = federated(&corp, &list(&["pwd", "otp", "made-up", "pwd"]));
        assert_eq!(stored, list(&["fed", "pwd", "otp", "idp:corp"]));
        let (amr, idp) = split(&stored);
        assert_eq!(amr, list(&["fed", "pwd", "otp"]));
        assert_eq!(idp.as_deref(), Some("corp"));
        assert_eq!(split(&list(&["pwd"])), (list(&["pwd"]), None));
    }

    #[test]
    fn a_bound_key_rides_in_the_list_and_never_becomes_a_claim() {
        let bound = bind_key(&list(&["pwd", "jkt:old"]), Some("new"));
        assert_eq!(bound, list(&["pwd", "jkt:new"]));
        assert_eq!(bound_key(&bound), Some("new"));
        assert_eq!(split(&bound), (list(&["pwd"]), None));
        assert_eq!(bound_key(&bind_key(&bound, None)), None);
    }

    #[test]
    fn a_second_factor_is_mfa_or_two_methods() {
        assert!(shows_second_factor(&list(&["mfa"])));
        assert!(shows_second_factor(&list(&["pwd", "otp"])));
        assert!(!shows_second_factor(&list(&["pwd"])));
        assert!(!shows_second_factor(&list(&["pwd", "pwd", "fed"])));
        assert!(!shows_second_factor(&list(&["pwd", "made-up"])));
    }
}
