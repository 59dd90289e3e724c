//! The WebAuthn relying party's settings (book § Passkeys): its id and the origins a ceremony may
//! come from, checked at start.

use super::parse::Parser;

impl Parser {
    /// The WebAuthn relying party (book § Passkeys). The RP ID is `TESSERA_WEBAUTHN_RP_ID`, or
    /// the issuer's host when that is a domain (WebAuthn refuses IP addresses: with an issuer
    /// on one and no RP ID, passkeys are off). The origins are `TESSERA_WEBAUTHN_ORIGINS`,
    /// each of which must be on the RP ID's domain, or by default the issuer's origin and
    /// those CORS origins that are. An origin is `https://`, or `http://` on `localhost`
    /// (a browser's secure context); an issuer that is neither turns passkeys off unless an
    /// RP ID is set.
    pub(super) fn webauthn(
        &mut self,
        issuer: Option<&str>,
        cors_origins: &[String],
    ) -> Option<crate::config::WebauthnSettings> {
        // both read first, so each is known to the parser whatever the issuer
        let explicit = self.opt_string("webauthn_rp_id");
        let listed = self.opt_string("webauthn_origins");
        let issuer = url::Url::parse(issuer?).ok()?;
        let chosen = explicit.is_some();
        let rp_id = match explicit {
            Some(id) => match url::Host::parse(&id.to_ascii_lowercase()) {
                Ok(url::Host::Domain(domain))
                    if !domain.starts_with('.') && !domain.ends_with('.') =>
                {
                    domain
                }
                _ => {
                    self.error(
                        "webauthn_rp_id",
                        "must be a domain name such as example.com (WebAuthn refuses IP addresses)",
                    );
                    return None;
                }
            },
            None => match issuer.host() {
                Some(url::Host::Domain(domain)) => domain.to_ascii_lowercase(),
                _ => return None,
            },
        };
        let on_rp_domain = |origin: &url::Url| {
            origin.host_str().is_some_and(|host| {
                host == rp_id
                    || host
                        .strip_suffix(rp_id.as_str())
                        .is_some_and(|sub| sub.ends_with('.'))
            })
        };
        let secure = |origin: &url::Url| {
            origin.scheme() == "https"
                || (origin.scheme() == "http"
                    && origin
                        .host_str()
                        .is_some_and(|h| h == "localhost" || h.ends_with(".localhost")))
        };
        let mut origins = Vec::new();
        match listed {
            Some(listed) => {
                for text in listed.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                    match url::Url::parse(text) {
                        Ok(origin)
                            if origin.path() == "/"
                                && !text.ends_with('/')
                                && secure(&origin)
                                && on_rp_domain(&origin) =>
                        {
                            origins.push(origin)
                        }
                        _ => self.error(
                            "webauthn_origins",
                            format!(
                                "{text:?} is not an https:// origin (http:// only on localhost) \
                                 on {rp_id} or a subdomain of it, the RP ID"
                            ),
                        ),
                    }
                }
            }
            None => {
                let mut issuer_origin = issuer.clone();
                issuer_origin.set_path("/");
                if !secure(&issuer_origin) || !on_rp_domain(&issuer_origin) {
                    if !chosen {
                        // an http:// issuer off localhost (TESSERA_ALLOW_INSECURE_HTTP): no
                        // browser runs WebAuthn there, so passkeys are off
                        return None;
                    }
                    self.error(
                        "webauthn_rp_id",
                        format!(
                            "the issuer's origin is not on {rp_id}'s domain over https (or http on \
                             localhost); list the origins in TESSERA_WEBAUTHN_ORIGINS"
                        ),
                    );
                    return None;
                }
                origins.push(issuer_origin);
                let cors = cors_origins.iter().filter_map(|o| url::Url::parse(o).ok());
                origins.extend(cors.filter(|o| secure(o) && on_rp_domain(o)));
            }
        }
        Some(crate::config::WebauthnSettings { rp_id, origins })
    }
}
