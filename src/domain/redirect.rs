//! Redirect URIs (book § Sign-in with the authorization-code flow; RFC 9700 §4.1, RFC 8252): what a client may register, and
//! whether an authorization request's `redirect_uri` is one it registered. The comparison
//! is by exact string, except that a loopback IP literal matches on any port (a native
//! app listens on whatever port it got).

use std::net::IpAddr;

use url::{Host, Url};

fn loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Ipv4(ip)) => IpAddr::V4(ip).is_loopback(),
        Some(Host::Ipv6(ip)) => IpAddr::V6(ip).is_loopback(),
        _ => false,
    }
}

/// Whether `uri` may be registered: absolute, no fragment, no user information; `https`,
/// `http` only on a loopback IP literal, or a native app's private-use scheme (which has
/// a dot, RFC 8252 §7.1).
pub fn registrable(uri: &str) -> bool {
    let Ok(url) = Url::parse(uri) else {
        return false;
    };
    if url.fragment().is_some() || !url.username().is_empty() || url.password().is_some() {
        return false;
    }
    match url.scheme() {
        "https" => url.host().is_some(),
        "http" => loopback(&url),
        scheme => scheme.contains('.'),
    }
}

/// Whether `requested` is the registered redirect URI `registered`.
pub fn matches(registered: &str, requested: &str) -> bool {
    if registered == requested {
        return true;
    }
    let (Ok(registered), Ok(mut requested_url)) = (Url::parse(registered), Url::parse(requested))
    else {
        return false;
    };
    // only a URI already in canonical form can match on the loopback rule: nothing the
    // parser would rewrite (dot segments, case, default ports) gets a second reading
    if requested_url.as_str() != requested
        || registered.scheme() != "http"
        || !loopback(&registered)
        || requested_url.fragment().is_some()
        || !requested_url.username().is_empty()
        || requested_url.password().is_some()
    {
        return false;
    }
    if requested_url.set_port(registered.port()).is_err() {
        return false;
    }
    requested_url == registered
}

/// The registered redirect URI a request names, or the only one when it names none.
pub fn resolve<'a>(registered: &'a [String], requested: Option<&'a str>) -> Option<&'a str> {
    match requested {
        Some(requested) => registered
            .iter()
            .any(|r| matches(r, requested))
            .then_some(requested),
        None => match registered {
            [only] => Some(only.as_str()),
            _ => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_match_only_except_the_loopback_port() {
        let app = "https://app.example.com/cb";
        assert!(matches(app, app));
        for attempt in [
            "https://app.example.com/cb/",
            "https://app.example.com/cb?x=1",
            "https://app.example.com/cb#frag",
            "https://app.example.com.evil.com/cb",
            "https://evil.com/https://app.example.com/cb",
            "https://user@app.example.com/cb",
            "https://app.example.com@evil.com/cb",
            "HTTPS://APP.EXAMPLE.COM/cb",
            "https://app.example.com:443/cb",
            "https://app.example.com/CB",
            "https://app.example.com/cb/../cb",
            "http://app.example.com/cb",
        ] {
            assert!(!matches(app, attempt), "{attempt}");
        }
        let native = "http://127.0.0.1/callback";
        assert!(matches(native, "http://127.0.0.1:51234/callback"));
        assert!(matches("http://[::1]:8000/cb", "http://[::1]:9/cb"));
        for attempt in [
            "http://127.0.0.1:51234/callback/../other",
            "http://127.0.0.1:51234/other",
            "http://127.0.0.2:51234/callback",
            "http://localhost:51234/callback",
            "http://127.0.0.1:51234/callback#x",
            "http://u@127.0.0.1:51234/callback",
            "https://127.0.0.1:51234/callback",
            "http://127.0.0.1:51234/callback?x",
        ] {
            assert!(!matches(native, attempt), "{attempt}");
        }
    }

    #[test]
    fn what_may_be_registered() {
        for ok in [
            "https://app.example.com/cb",
            "http://127.0.0.1/cb",
            "http://[::1]:8080/cb",
            "com.example.app:/oauth2redirect",
        ] {
            assert!(registrable(ok), "{ok}");
        }
        for bad in [
            "http://app.example.com/cb",
            "http://localhost/cb",
            "https://app.example.com/cb#x",
            "https://u:p@app.example.com/cb",
            "javascript:alert(1)",
            "data:text/html,x",
            "not a url",
            "/relative",
        ] {
            assert!(!registrable(bad), "{bad}");
        }
    }

    #[test]
    fn an_omitted_redirect_uri_means_the_only_one() {
        let one = vec!["https://a.example/cb".to_owned()];
        assert_eq!(resolve(&one, None), Some("https://a.example/cb"));
        let two = vec![
            "https://a.example/cb".to_owned(),
            "https://a.example/2".to_owned(),
        ];
        assert_eq!(resolve(&two, None), None);
        assert_eq!(
            resolve(&two, Some("https://a.example/2")),
            Some("https://a.example/2")
        );
        assert_eq!(resolve(&two, Some("https://a.example/3")), None);
    }
}
