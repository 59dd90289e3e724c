//! libpq's `sslmode` and `sslrootcert` in `DATABASE_URL` (libpq's "SSL Support" section): taken off the URL
//! (tokio-postgres knows neither `verify-*` nor `sslrootcert`), checked as libpq checks
//! them, and what is worth a warning at start. `tls` does the verification they ask for.

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

/// A `DATABASE_URL` with `sslmode` and `sslrootcert` taken off, and what they said.
/// `root_cert` is the CA file; `None` with a verifying mode means the system's roots.
#[derive(Debug)]
pub struct Split {
    pub url: String,
    pub mode: SslMode,
    pub root_cert: Option<String>,
}

impl Split {
    /// What to warn about at start: a mode that verifies nothing, to a host that is not
    /// on this machine.
    pub fn transport_warning(&self) -> Option<String> {
        if matches!(self.mode, SslMode::VerifyCa | SslMode::VerifyFull) {
            return None;
        }
        let parsed = url::Url::parse(&self.url).ok()?;
        let socket_param = parsed
            .query_pairs()
            .any(|(k, v)| k == "host" && v.starts_with('/'));
        let host = parsed.host_str().unwrap_or_default();
        let local = socket_param
            || host.is_empty()
            || host.starts_with("%2F")
            || host.eq_ignore_ascii_case("localhost")
            || host
                .trim_matches(|c| c == '[' || c == ']')
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if local {
            return None;
        }
        let risk = match self.mode {
            SslMode::Disable => "in clear text: anyone on the path reads password hashes and sealed keys",
            _ => "over TLS that verifies no certificate: anyone on the path can impersonate the server",
        };
        Some(format!(
            "DATABASE_URL connects to {host} {risk}; use sslmode=verify-full with sslrootcert"
        ))
    }
}

/// Takes `sslmode` and `sslrootcert` off `url`; an unknown `sslmode` is an error.
pub fn split(url: &str) -> Result<Split, String> {
    let mut parsed = url::Url::parse(url).map_err(|_| "is not a valid URL".to_owned())?;
    let (mut mode, mut root_cert, mut rest) = (None, None, Vec::new());
    for (key, value) in parsed.query_pairs() {
        match key.as_ref() {
            "sslmode" => mode = Some(value.into_owned()),
            "sslrootcert" => root_cert = Some(value.into_owned()),
            _ => rest.push((key.into_owned(), value.into_owned())),
        }
    }
    let system = root_cert.as_deref() == Some("system");
    let mode = match mode.as_deref() {
        // libpq 16: with the system's roots the default is verify-full
        None if system => SslMode::VerifyFull,
        None | Some("prefer") => SslMode::Prefer,
        Some("disable") => SslMode::Disable,
        Some("require") if system => SslMode::VerifyFull,
        Some("require") if root_cert.is_some() => SslMode::VerifyCa,
        Some("require") => SslMode::Require,
        Some("verify-ca") => SslMode::VerifyCa,
        Some("verify-full") => SslMode::VerifyFull,
        Some("allow") => return Err("sslmode=allow is not supported (it would try clear text first): use prefer or stricter".into()),
        Some(other) => return Err(format!("sslmode={other} is not one of disable, prefer, require, verify-ca, verify-full")),
    };
    match (mode, root_cert.is_some(), system) {
        (SslMode::Disable, true, _) => {
            return Err("sslrootcert with sslmode=disable: nothing would be verified".into())
        }
        (SslMode::Prefer, true, false) => {
            return Err("sslrootcert with sslmode=prefer: use sslmode=verify-full (or verify-ca) to verify against it".into())
        }
        (SslMode::VerifyCa | SslMode::VerifyFull, false, _) => {
            return Err("sslmode=verify-ca and verify-full need sslrootcert: the CA file to verify against, or sslrootcert=system for the system's roots (with verify-full)".into())
        }
        (SslMode::VerifyCa, true, true) => {
            return Err("sslrootcert=system verifies the host name too: use sslmode=verify-full (a chain check alone would accept any certificate a public CA issued)".into())
        }
        _ => {}
    }
    let root_cert = root_cert.filter(|_| !system);
    if rest.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(&rest);
    }
    Ok(Split {
        url: parsed.into(),
        mode,
        root_cert,
    })
}

impl SslMode {
    /// What tokio-postgres is told: whether TLS may be skipped.
    pub fn driver(self) -> tokio_postgres::config::SslMode {
        use tokio_postgres::config::SslMode as Driver;
        match self {
            SslMode::Disable => Driver::Disable,
            SslMode::Prefer => Driver::Prefer,
            _ => Driver::Require,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_and_sslrootcert_come_off_the_url_and_the_rest_stays() {
        let s = split(
            "postgres://u:p@db:5432/app?sslmode=verify-full&sslrootcert=/ca.pem&application_name=t",
        )
        .unwrap();
        assert_eq!(
            (s.mode, s.root_cert.as_deref()),
            (SslMode::VerifyFull, Some("/ca.pem"))
        );
        assert_eq!(s.url, "postgres://u:p@db:5432/app?application_name=t");
        assert_eq!(split("postgres://db/app").unwrap().mode, SslMode::Prefer);
        assert_eq!(
            split("postgres://db/app?sslmode=require&sslrootcert=/c")
                .unwrap()
                .mode,
            SslMode::VerifyCa
        );
        assert_eq!(
            split("postgres://db/app?sslmode=disable").unwrap().url,
            "postgres://db/app"
        );
        for bad in [
            "postgres://db/?sslmode=allow",
            "postgres://db/?sslmode=nope",
            "postgres://db/?sslmode=disable&sslrootcert=/c",
            // a chain check against every public CA accepts any name: refused
            "postgres://db/?sslmode=verify-ca",
            "postgres://db/?sslmode=verify-full",
            "postgres://db/?sslmode=verify-ca&sslrootcert=system",
        ] {
            assert!(split(bad).is_err(), "{bad}");
        }
        for system in [
            "postgres://db/?sslrootcert=system",
            "postgres://db/?sslmode=require&sslrootcert=system",
            "postgres://db/?sslmode=verify-full&sslrootcert=system",
        ] {
            let s = split(system).unwrap();
            assert_eq!(
                (s.mode, s.root_cert),
                (SslMode::VerifyFull, None),
                "{system}"
            );
        }
    }

    #[test]
    fn a_mode_that_verifies_nothing_to_another_host_is_warned_about() {
        let warns = |url: &str| split(url).unwrap().transport_warning();
        for local in [
            "postgres://u@127.0.0.1/app?sslmode=require",
            "postgres://u@localhost/app?sslmode=disable",
            "postgres://u@[::1]:5432/app",
            "postgres://u@%2Fvar%2Frun%2Fpostgresql/app",
            "postgres://u@db/app?host=/var/run/postgresql",
            "postgres://u@db.internal/app?sslmode=verify-full&sslrootcert=/ca.pem",
        ] {
            assert_eq!(warns(local), None, "{local}");
        }
        for remote in [
            "postgres://u:secret@db.internal/app?sslmode=require",
            "postgres://u@10.0.0.5/app",
            "postgres://u@db.internal/app?sslmode=disable",
        ] {
            let warning = warns(remote).unwrap();
            assert!(
                warning.contains("verify-full") && !warning.contains("secret"),
                "{warning}"
            );
        }
    }
}
