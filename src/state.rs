//! The application state every request handler, service and background task shares
//! (book § Run the service): settings, stores, key ring, hashing pool, clock and the documents served as
//! bytes. Nothing here knows HTTP: the listeners take it as `web::Data<AppState>`.

use std::sync::Arc;

use bytes::Bytes;

use crate::auth::hashing::PasswordHasher;
use crate::clock::Clock;
use crate::config::Settings;
use crate::notify::Transports;
use crate::service::abuse::{ClientGate, Limiter};
use crate::service::access::AccessCheck;
use crate::service::audit::Auditor;
use crate::service::authorize::{Browser, PushedRequests};
use crate::service::client_assertion::ClientAssertions;
use crate::service::consents::Consents;
use crate::service::dpop::Dpop;
use crate::service::email::{EmailAddresses, EmailParts};
use crate::service::grants::{Grants, TokenIssuer, TokenPolicy};
use crate::service::logout::SignOut;
use crate::service::mfa::account::{Account, AccountParts};
use crate::service::mfa::Mfa;
use crate::service::outbox::{LogoutSigner, Outbox};
use crate::service::passkeys::Passkeys;
use crate::service::passwords::Passwords;
use crate::service::reset::{ResetParts, Resets};
use crate::service::revocations::TokenEndpoints;
use crate::service::sessions::Sessions;
use crate::service::signin::authenticate::{Authenticator, AuthenticatorParts};
use crate::service::signin::{SignIn, SignInParts};
use crate::service::upstream::{Assertions, UpstreamParts, Upstreams};
use crate::store::{Readiness, Stores};
use crate::tokens::KeyRing;

/// Documents computed once at start-up and served as bytes.
pub struct Documents {
    pub discovery: Bytes,
    pub openapi: Bytes,
    pub admin_openapi: Bytes,
    /// `Cache-Control` of the discovery document.
    pub cache_control: String,
}

/// Shared by every worker of both listeners and by the background tasks.
pub struct AppState {
    pub settings: Arc<Settings>,
    pub keyring: Arc<KeyRing>,
    /// Signs the tokens grants decide on (the key ring, the clock and the issuance policy).
    pub issuer: TokenIssuer,
    /// The user grants (password, mfa-otp, authorization code, refresh).
    pub grants: Grants,
    /// Writes the audit trail at the clock's time.
    pub audit: Auditor,
    pub stores: Stores,
    pub hasher: Arc<PasswordHasher>,
    /// Checks bearer access tokens (and caches those whose signature verified).
    pub access: Arc<AccessCheck>,
    /// Revocation (RFC 7009) and introspection (RFC 7662).
    pub token_endpoints: TokenEndpoints,
    pub clock: Arc<dyn Clock>,
    pub documents: Documents,
    /// Authenticates clients; remembers the (client id, address) pairs over their
    /// failed-authentication allowance.
    pub client_gate: ClientGate,
    /// Request limits and the password lockout.
    pub limiter: Limiter,
    /// Checks passwords against the users' hashes, counted toward the lockout.
    pub passwords: Passwords,
    /// Changes to a signed-in user's second factor.
    pub account: Account,
    /// RP-initiated logout.
    pub sign_out: SignOut,
    /// Password resets by emailed link.
    pub resets: Resets,
    /// Users' addresses: verification and changes (book § Email).
    pub email: EmailAddresses,
    /// Delivers what the stores queued (reset links), with retries (book § Email).
    pub outbox: Outbox,
    /// Checks sign-in credentials: passwords, lockout, second factors.
    pub authenticator: Authenticator,
    /// The hosted pages' sign-in state machine.
    pub signin: SignIn,
    /// Signing in through upstream providers, and users' links to them.
    pub upstreams: Upstreams,
    /// Sessions and browser sign-ins, and the feed of their ends.
    pub sessions: Sessions,
    /// The consents users give clients that are not first-party.
    pub consents: Consents,
    /// Sealed sign-in flows, CSRF tokens and browser sign-in sessions.
    pub browser: Browser,
    /// The last `/readyz` result (backends pinged at most once a second).
    pub readiness: Readiness,
    /// Checks DPoP proofs (RFC 9449) and keeps their `jti`s.
    pub dpop: Dpop,
    /// Pushed authorization requests (RFC 9126).
    pub pushed: PushedRequests,
}

impl AppState {
    /// Assembles the state from its parts; the caches are sized from the settings.
    pub fn new(
        settings: Settings,
        stores: Stores,
        keyring: KeyRing,
        hasher: PasswordHasher,
        clock: Arc<dyn Clock>,
        documents: Documents,
        transports: Transports,
    ) -> Self {
        let keyring = Arc::new(keyring);
        let settings = Arc::new(settings);
        let hasher = Arc::new(hasher);
        let audit = Auditor::new(stores.audit.clone(), clock.clone());
        let issuer = TokenIssuer::new(
            keyring.clone(),
            clock.clone(),
            TokenPolicy::new(&settings),
            settings.kek.clone(),
        );
        let limiter = Limiter::new(
            &stores,
            audit.clone(),
            clock.clone(),
            settings.abuse.clone(),
        );
        let sessions = Sessions::new(stores.clone(), settings.clone(), clock.clone());
        let upstreams = Upstreams::new(
            &stores,
            UpstreamParts {
                http: transports.upstream.clone(),
                assertions: Assertions {
                    keyring: keyring.clone(),
                    alg: settings.signing_alg,
                    clock: clock.clone(),
                },
                kek: settings.kek.clone(),
                issuer: settings.issuer.clone(),
                signup: settings.upstream_signup,
                audit: audit.clone(),
                clock: clock.clone(),
            },
        );
        let assertions = ClientAssertions::new(
            stores.mfa_tokens.clone(),
            clock.clone(),
            &settings.issuer,
            transports.upstream.clone(),
        );
        let outbox = Outbox::new(
            stores.outbox.clone(),
            transports,
            LogoutSigner {
                keyring: keyring.clone(),
                issuer: settings.issuer.clone(),
            },
            settings.kek.clone(),
            clock.clone(),
        );
        let passwords = Passwords::new(
            &stores,
            hasher.clone(),
            limiter.clone(),
            sessions.clone(),
            outbox.clone(),
            clock.clone(),
            settings.password.min_bytes,
        );
        let mfa = Mfa::new(
            &stores,
            settings.kek.clone(),
            clock.clone(),
            audit.clone(),
            outbox.clone(),
            settings.totp_issuer.clone(),
        );
        let passkeys = Passkeys::new(
            &stores,
            settings.webauthn.as_ref(),
            audit.clone(),
            outbox.clone(),
            clock.clone(),
        );
        let email = EmailAddresses::new(
            &stores,
            EmailParts {
                outbox: outbox.clone(),
                limiter: limiter.clone(),
                passwords: passwords.clone(),
                audit: audit.clone(),
                clock: clock.clone(),
                issuer: settings.issuer.clone(),
                mode: settings.notify.email_verification,
            },
        );
        let authenticator = Authenticator::new(
            stores.users.clone(),
            AuthenticatorParts {
                limiter: limiter.clone(),
                passwords: passwords.clone(),
                mfa: mfa.clone(),
                passkeys: passkeys.clone(),
                email: email.clone(),
                audit: audit.clone(),
            },
        );
        let consents = Consents::new(&stores, sessions.clone(), audit.clone(), clock.clone());
        let browser = Browser::new(
            &stores,
            settings.kek.clone(),
            settings.sso_ttl,
            clock.clone(),
        );
        let pushed = PushedRequests::new(
            stores.mfa_tokens.clone(),
            clock.clone(),
            settings.require_par,
        );
        let signin = SignIn::new(
            &stores,
            SignInParts {
                issuer: issuer.clone(),
                browser: browser.clone(),
                authenticator: authenticator.clone(),
                upstreams: upstreams.clone(),
                consents: consents.clone(),
                audit: audit.clone(),
                clock: clock.clone(),
                pushed: pushed.clone(),
            },
        );
        let grants = Grants::new(
            &stores,
            issuer.clone(),
            authenticator.clone(),
            sessions.clone(),
            audit.clone(),
        );
        let access = Arc::new(AccessCheck::new(
            keyring.clone(),
            &stores,
            clock.clone(),
            &settings,
        ));
        let account = Account::new(
            &stores,
            AccountParts {
                passwords: passwords.clone(),
                mfa: mfa.clone(),
                passkeys: passkeys.clone(),
                sessions: sessions.clone(),
                clock: clock.clone(),
            },
        );
        let sign_out = SignOut::new(
            &stores,
            issuer.clone(),
            browser.clone(),
            sessions.clone(),
            audit.clone(),
        );
        let resets = Resets::new(
            &stores,
            ResetParts {
                outbox: outbox.clone(),
                hasher: hasher.clone(),
                sessions: sessions.clone(),
                audit: audit.clone(),
                clock: clock.clone(),
                reset_ttl: settings.notify.reset_ttl,
                min_bytes: settings.password.min_bytes,
            },
        );
        let dpop = Dpop::new(
            stores.mfa_tokens.clone(),
            clock.clone(),
            settings.issuer.clone(),
            settings.dpop_nonce.then(|| settings.kek.clone()),
        );
        AppState {
            dpop,
            pushed,
            resets,
            email,
            outbox,
            sign_out,
            account,
            grants,
            client_gate: ClientGate::new(
                &stores,
                clock.clone(),
                settings.abuse.client_auth_failures,
                assertions,
            ),
            token_endpoints: TokenEndpoints::new(
                access.clone(),
                sessions.clone(),
                limiter.clone(),
                stores.families.clone(),
                clock.clone(),
                &settings,
            ),
            access,
            signin,
            upstreams,
            browser,
            consents,
            sessions,
            authenticator,
            passwords,
            limiter,
            audit,
            issuer,
            settings,
            keyring,
            stores,
            hasher,
            clock,
            documents,
            readiness: Readiness::default(),
        }
    }
}

impl AppState {
    /// Each backend and whether it answered, pinged at most once a second (book § Endpoints).
    pub async fn backend_checks(&self) -> crate::store::Checks {
        self.readiness
            .backends(&self.stores.health, self.clock.as_ref())
            .await
    }
}
