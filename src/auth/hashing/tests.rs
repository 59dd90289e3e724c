//! The hashing pool: verification, rehash on new parameters, shedding, cost bounds.

use super::*;
use argon2::password_hash::{PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::rngs::OsRng;

const FAST: HashParams = HashParams {
    memory_kib: 1024,
    iterations: 1,
    parallelism: 1,
};

#[tokio::test]
async fn argon2id_round_trip_and_wrong_password() {
    let hasher = PasswordHasher::start(FAST, 1, 4).unwrap();
    let hash = hasher
        .hash(Password::new("correct horse battery".into()))
        .await
        .unwrap();
    assert!(hash.starts_with("$argon2id$v=19$m=1024,t=1,p=1$"));
    let ok = hasher
        .verify(
            Password::new("correct horse battery".into()),
            Some(hash.clone()),
        )
        .await
        .unwrap();
    assert!(matches!(ok, Verified::Yes { rehash: None }));
    let bad = hasher
        .verify(Password::new("wrong".into()), Some(hash))
        .await
        .unwrap();
    assert!(matches!(bad, Verified::No));
    let nobody = hasher
        .verify(Password::new("anything".into()), None)
        .await
        .unwrap();
    assert!(matches!(nobody, Verified::No));
}

#[tokio::test]
async fn hashes_interoperate_with_the_standard_argon2_api_both_ways() {
    use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
    let hasher = PasswordHasher::start(FAST, 1, 4).unwrap();
    let ours = hasher
        .hash(Password::new("interop password".into()))
        .await
        .unwrap();
    assert!(Argon2::default()
        .verify_password(b"interop password", &PasswordHash::new(&ours).unwrap())
        .is_ok());
    assert!(Argon2::default()
        .verify_password(b"other password", &PasswordHash::new(&ours).unwrap())
        .is_err());
    let params = Params::new(1024, 1, 1, None).unwrap();
    let standard = Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password(b"made elsewhere", &SaltString::generate(&mut OsRng))
        .unwrap()
        .to_string();
    let ok = hasher
        .verify(
            Password::new("made elsewhere".into()),
            Some(standard.clone()),
        )
        .await
        .unwrap();
    assert!(matches!(ok, Verified::Yes { rehash: None }));
    let bad = hasher
        .verify(Password::new("made elsewhere!".into()), Some(standard))
        .await
        .unwrap();
    assert!(matches!(bad, Verified::No));
}

/// Runs `jobs` jobs of 40 ms at once: the most that ran at the same time, and how many
/// the yielding thread (the last of two) ran.
async fn overlap(hasher: &PasswordHasher, jobs: usize) -> (usize, usize) {
    let running = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let runs = (0..jobs).map(|_| {
        let (running, most) = (running.clone(), most.clone());
        hasher.run(move || {
            most.fetch_max(running.fetch_add(1, Ordering::SeqCst) + 1, Ordering::SeqCst);
            std::thread::sleep(std::time::Duration::from_millis(40));
            running.fetch_sub(1, Ordering::SeqCst);
            std::thread::current().name() == Some("argon2-1")
        })
    });
    let on_yielding = futures_util::future::join_all(runs)
        .await
        .into_iter()
        .filter(|r| *r.as_ref().unwrap())
        .count();
    (most.load(Ordering::SeqCst), on_yielding)
}

#[tokio::test]
async fn one_hashing_thread_stays_off_the_cpu_while_other_requests_are_served() {
    let hasher = Arc::new(PasswordHasher::start(FAST, 2, 16).unwrap());
    // only hashing: both threads hash
    let (most, _) = overlap(&hasher, 6).await;
    assert_eq!(most, 2, "with only hashing to do, every thread hashes");

    let stop = Arc::new(AtomicBool::new(false));
    let traffic = {
        let (hasher, stop) = (hasher.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                hasher.request_served();
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        })
    };
    std::thread::sleep(std::time::Duration::from_millis(30));
    // the yielding thread may already wait for a job, and takes that one; then it yields
    let (_, on_yielding) = overlap(&hasher, 8).await;
    assert!(
        on_yielding <= 1,
        "the yielding thread ran {on_yielding} of 8 jobs while requests were served"
    );
    stop.store(true, Ordering::SeqCst);
    traffic.join().unwrap();

    std::thread::sleep(std::time::Duration::from_millis(50));
    let (most, on_yielding) = overlap(&hasher, 6).await;
    assert_eq!(
        most, 2,
        "once requests stop, the core is used for hashing again"
    );
    assert!(on_yielding >= 1);
}

#[tokio::test]
async fn a_tracked_request_tells_whether_it_asked_for_a_hash() {
    let hasher = PasswordHasher::start(FAST, 1, 4).unwrap();
    let (hash, hashed) = track_request(hasher.hash(Password::new("a password".into()))).await;
    assert!(hash.is_ok() && hashed);
    let (_, hashed) = track_request(async {}).await;
    assert!(!hashed);
}

#[tokio::test]
async fn bcrypt_and_outdated_argon2_hashes_are_upgraded() {
    let hasher = PasswordHasher::start(FAST, 1, 4).unwrap();
    let bcrypt_hash = bcrypt::hash("legacy password!", 4).unwrap();
    assert!(importable_hash(&bcrypt_hash).is_ok());
    let v = hasher
        .verify(Password::new("legacy password!".into()), Some(bcrypt_hash))
        .await
        .unwrap();
    assert!(matches!(v, Verified::Yes { rehash: Some(h) } if h.starts_with("$argon2id$")));

    let old = PasswordHasher::start(
        HashParams {
            memory_kib: 2048,
            ..FAST
        },
        1,
        4,
    )
    .unwrap();
    let old_hash = old
        .hash(Password::new("some password".into()))
        .await
        .unwrap();
    let v = hasher
        .verify(Password::new("some password".into()), Some(old_hash))
        .await
        .unwrap();
    assert!(matches!(v, Verified::Yes { rehash: Some(h) } if h.contains("m=1024")));
}
