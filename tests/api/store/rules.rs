//! The rules each backend writes in its own language (GCRA in `gcra.lua` and in
//! `memory/limits.rs`; refresh rotation in `rotate.lua` and in `sqlite/families.rs`; the
//! authorization code's states in `take_code.lua`/`record_code.lua` and `sqlite/codes.rs`)
//! as one table of cases each, played against every backend through the store traits with the
//! time as a parameter: a rule changed in one implementation and not the other fails here.

use std::time::Duration;

use tessera::store::{RotateRequest, Rotation};

use super::now;

/// One request of a GCRA case: milliseconds after the start, then what the limiter must
/// answer: allowed, remaining, retry-after (ms).
type Hit = (u64, bool, u32, u64);

/// (what the case shows, limit, period in ms, the requests in order)
const GCRA_CASES: &[(&str, u32, u64, &[Hit])] = &[
    (
        "a burst of the limit, then refused until one interval passes",
        3,
        3_000,
        &[
            (0, true, 2, 0),
            (0, true, 1, 0),
            (0, true, 0, 0),
            (0, false, 0, 1_000),
        ],
    ),
    (
        "one request per interval after the burst",
        3,
        3_000,
        &[
            (0, true, 2, 0),
            (0, true, 1, 0),
            (0, true, 0, 0),
            (1_000, true, 0, 0),
            (1_000, false, 0, 1_000),
            (2_000, true, 0, 0),
        ],
    ),
    (
        "a whole period restores the whole burst",
        2,
        10_000,
        &[
            (0, true, 1, 0),
            (0, true, 0, 0),
            (10_000, true, 1, 0),
            (10_000, true, 0, 0),
        ],
    ),
    (
        "a limit of one, a millisecond early",
        1,
        5_000,
        &[(0, true, 0, 0), (4_999, false, 0, 1), (5_000, true, 0, 0)],
    ),
    (
        "a clock that goes back refills nothing",
        2,
        2_000,
        &[
            (1_000, true, 1, 0),
            (1_000, true, 0, 0),
            (0, false, 0, 2_000),
        ],
    ),
];

pub async fn gcra_follows_the_table_of_cases(backend: &super::Backend) {
    let limits = &backend.stores.limits;
    let start = now();
    for (case, limit, period_ms, hits) in GCRA_CASES {
        let key = uuid::Uuid::new_v4().simple().to_string();
        let limit = tessera::domain::RateLimit {
            count: *limit,
            period: Duration::from_millis(*period_ms),
        };
        for (i, (at, allowed, remaining, retry_after)) in hits.iter().enumerate() {
            let t = start + Duration::from_millis(*at);
            let d = limits.hit(&key, limit, t).await.unwrap();
            let got = (d.allowed, d.remaining, d.retry_after.as_millis() as u64);
            assert_eq!(
                got,
                (*allowed, *remaining, *retry_after),
                "{case}: request {i} at +{at} ms"
            );
        }
    }
}

use super::families::{CLIENT, GRACE, IDLE};

/// One rotation of a case: the client asking, the presented and next token (as a byte
/// each hash is made of), seconds after the family began, the answer, and whether the
/// family is alive afterwards.
type Step = (&'static str, u8, u8, u64, &'static str, bool);

const ROTATION_CASES: &[(&str, &[Step])] = &[
    (
        "the current token rotates, and its successor after it",
        &[
            (CLIENT, 1, 2, 0, "rotated", true),
            (CLIENT, 2, 3, 1, "rotated", true),
        ],
    ),
    (
        "a retry within the grace gets the same successor",
        &[
            (CLIENT, 1, 2, 0, "rotated", true),
            (CLIENT, 1, 2, 9, "grace", true),
            (CLIENT, 2, 3, 9, "rotated", true),
        ],
    ),
    (
        "a retry within the grace that brings another successor is refused, nothing ends",
        &[
            (CLIENT, 1, 2, 0, "rotated", true),
            (CLIENT, 1, 3, 5, "rejected", true),
        ],
    ),
    (
        "the retired token at the end of the grace is reuse: the family ends",
        &[
            (CLIENT, 1, 2, 0, "rotated", true),
            (CLIENT, 1, 2, 10, "reused", false),
            (CLIENT, 2, 3, 11, "rejected", false),
        ],
    ),
    (
        "a token older than the one just retired is reuse",
        &[
            (CLIENT, 1, 2, 0, "rotated", true),
            (CLIENT, 2, 3, 1, "rotated", true),
            (CLIENT, 1, 2, 2, "reused", false),
        ],
    ),
    (
        "a token of the family that never was current is reuse",
        &[(CLIENT, 9, 2, 0, "reused", false)],
    ),
    (
        "another client is refused and the family stays",
        &[
            ("another-client", 1, 2, 0, "rejected", true),
            (CLIENT, 1, 2, 1, "rotated", true),
        ],
    ),
    (
        "at the absolute expiry everything is refused and the family goes",
        &[
            (CLIENT, 1, 2, 3_600, "rejected", false),
            (CLIENT, 1, 2, 0, "rejected", false),
        ],
    ),
];

pub async fn rotation_follows_the_table_of_cases(backend: &super::Backend) {
    let families = &backend.stores.families;
    let start = now();
    for (case, steps) in ROTATION_CASES {
        // a family whose current token is made of 1s, absolute expiry an hour away
        let family = super::families::family(&backend.stores, start, 1, IDLE).await;
        for (i, (client, presented, next, at, expected, alive)) in steps.iter().enumerate() {
            let (presented, next) = ([*presented; 32], [*next; 32]);
            let rotation = families
                .rotate(RotateRequest {
                    family_id: &family.id,
                    presented: &presented,
                    next: &next,
                    client_id: client,
                    now: start + Duration::from_secs(*at),
                    idle_ttl: IDLE,
                    grace: GRACE,
                })
                .await
                .unwrap();
            let got = match rotation {
                Rotation::Rotated(_) => "rotated",
                Rotation::Grace(_) => "grace",
                Rotation::Reused(_) => "reused",
                Rotation::Rejected => "rejected",
            };
            assert_eq!(got, *expected, "{case}: step {i}");
            let found = families
                .find_family(&family.id, backend.now())
                .await
                .unwrap()
                .is_some();
            assert_eq!(found, *alive, "{case}: family alive after step {i}");
        }
    }
}

/// One operation on an authorization code, and what the store must answer.
#[derive(Clone, Copy)]
enum CodeOp {
    /// Store the code (60 s).
    Put,
    /// Spend it: `fresh`, `replayed` (with the recorded family, if any) or `unknown`.
    Take(&'static str, Option<&'static str>),
    /// Record the family its tokens started: whether it was recorded.
    Record(&'static str, bool),
}

use CodeOp::{Put, Record, Take};

/// The code's state machine (`take_code.lua`, `record_code.lua` and `sqlite/codes.rs`).
const CODE_CASES: &[(&str, &[CodeOp])] = &[
    (
        "spent once; a replay before the family is recorded finds none and stops the record",
        &[
            Put,
            Take("fresh", None),
            Take("replayed", None),
            Record("fam-1", false),
        ],
    ),
    (
        "a replay after the family is recorded finds it, every time",
        &[
            Put,
            Take("fresh", None),
            Record("fam-1", true),
            Take("replayed", Some("fam-1")),
            Take("replayed", Some("fam-1")),
            Record("fam-2", false),
        ],
    ),
    (
        "a family is not recorded for a code nobody spent",
        &[
            Put,
            Record("fam-1", false),
            Take("fresh", None),
            Take("replayed", None),
        ],
    ),
    (
        "a code never stored is unknown and records nothing",
        &[
            Take("unknown", None),
            Record("fam-1", false),
            Take("unknown", None),
        ],
    ),
];

pub async fn the_code_state_machine_follows_the_table_of_cases(backend: &super::Backend) {
    use tessera::store::{AuthCode, CodeTake};
    let codes = &backend.stores.codes;
    for (n, (case, ops)) in CODE_CASES.iter().enumerate() {
        let mut digest = [0u8; 32];
        digest[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        digest[31] = n as u8;
        let code = AuthCode {
            client_id: "app".into(),
            redirect_uri: "https://app.example.com/cb".into(),
            redirect_uri_sent: true,
            code_challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM".into(),
            nonce: None,
            scope: "openid".into(),
            sso_id: "sso-1".into(),
            user_id: tessera::domain::UserId::generate(),
            auth_time: now(),
            amr: vec!["pwd".into()],
        };
        for (i, op) in ops.iter().enumerate() {
            match *op {
                Put => codes
                    .put_code(&digest, &code, Duration::from_secs(60), backend.now())
                    .await
                    .unwrap(),
                Take(expected, family) => {
                    let got = match codes.take_code(&digest, backend.now()).await.unwrap() {
                        CodeTake::Fresh(taken) => {
                            assert_eq!(taken, code, "{case}: step {i} gives the stored code");
                            ("fresh", None)
                        }
                        CodeTake::Replayed(f) => ("replayed", f),
                        CodeTake::Unknown => ("unknown", None),
                    };
                    let want = (expected, family.map(tessera::domain::FamilyId::from));
                    assert_eq!(got, want, "{case}: step {i}");
                }
                Record(family, expected) => {
                    let recorded = codes
                        .record_code_family(&digest, &family.into(), backend.now())
                        .await
                        .unwrap();
                    assert_eq!(recorded, expected, "{case}: step {i}");
                }
            }
        }
    }
}
