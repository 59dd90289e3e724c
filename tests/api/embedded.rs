//! book § Run the service: `tessera serve` with nothing configured runs on the embedded store: the
//! data directory and its secrets are created once, one serve per directory, and sessions
//! and revocations survive a `kill -9`.

use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::{free_port, until_answering, TempDir};
use crate::helpers::{Fetch, STRONG_PASSWORD};

/// `tessera serve` on `dir` with only the listen addresses set (no DATABASE_URL, no
/// REDIS_URL, no KEK, no admin token).
pub(crate) fn serve(dir: &std::path::Path, public: u16, admin: u16) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
    cmd.arg("serve")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TESSERA_DATA_DIR", dir)
        .env("TESSERA_PUBLIC_ADDR", format!("127.0.0.1:{public}"))
        .env("TESSERA_ADMIN_ADDR", format!("127.0.0.1:{admin}"))
        .env("TESSERA_HTTP_WORKERS", "1");
    cmd
}

pub(crate) async fn started(mut cmd: Command, public: u16) -> Child {
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    until_answering(&mut child, public, "/healthz").await;
    child
}

fn mode(path: &std::path::Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

async fn password_grant(http: &reqwest::Client, public: u16) -> Value {
    http.post(format!("http://127.0.0.1:{public}/oauth2/token"))
        .form(&[
            ("grant_type", "password"),
            ("client_id", "spa"),
            ("username", "emma@example.com"),
            ("password", STRONG_PASSWORD),
            ("scope", "openid"),
        ])
        .fetch_json()
        .await
}

async fn register(http: &reqwest::Client, public: u16) {
    let registered = http
        .post(format!("http://127.0.0.1:{public}/api/v1/accounts"))
        .json(&serde_json::json!({"email": "emma@example.com", "password": STRONG_PASSWORD}))
        .fetch()
        .await;
    assert_eq!(registered.status(), StatusCode::ACCEPTED);
}

async fn refresh(http: &reqwest::Client, public: u16, token: &str) -> reqwest::Response {
    http.post(format!("http://127.0.0.1:{public}/oauth2/token"))
        .form(&[
            ("grant_type", "refresh_token"),
            ("client_id", "spa"),
            ("refresh_token", token),
        ])
        .fetch()
        .await
}

#[tokio::test]
async fn serve_with_nothing_configured_keeps_sessions_and_revocations_across_a_kill_9() {
    let dir = TempDir::new();
    let data = dir.0.join("data");
    let (public, admin) = (free_port(), free_port());
    let mut first = started(serve(&data, public, admin), public).await;

    // the data directory and its secrets, private to the service user
    assert_eq!(mode(&data), 0o700);
    for file in ["kek", "admin-token", "tessera.db", "tessera.db-wal", "lock"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
    let token = std::fs::read_to_string(data.join("admin-token")).unwrap();
    let token = token.trim();
    assert!(token.len() >= 32);

    let http = reqwest::Client::new();
    register(&http, public).await;
    let kept = password_grant(&http, public).await;
    let revoked = password_grant(&http, public).await;
    let kept_refresh = kept["refresh_token"].as_str().unwrap().to_owned();
    let revoked_refresh = revoked["refresh_token"].as_str().unwrap().to_owned();
    let revocation = http
        .post(format!("http://127.0.0.1:{public}/oauth2/revoke"))
        .form(&[("client_id", "spa"), ("token", revoked_refresh.as_str())])
        .fetch()
        .await;
    assert_eq!(revocation.status(), StatusCode::OK);

    // one serve per data directory: a second one refuses at once, naming it
    let second = serve(&data, free_port(), free_port()).output().unwrap();
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains(&data.display().to_string()) && stderr.contains("in use"),
        "{stderr}"
    );

    first.kill().unwrap();
    first.wait().unwrap();
    let mut restarted = started(serve(&data, public, admin), public).await;
    let rotated = refresh(&http, public, &kept_refresh).await;
    assert_eq!(
        rotated.status(),
        StatusCode::OK,
        "the session survived the kill"
    );
    let gone = refresh(&http, public, &revoked_refresh).await;
    assert_eq!(
        gone.status(),
        StatusCode::BAD_REQUEST,
        "the revocation survived too"
    );
    let keys = http
        .get(format!("http://127.0.0.1:{admin}/admin/keys"))
        .bearer_auth(token)
        .fetch()
        .await;
    assert_eq!(
        keys.status(),
        StatusCode::OK,
        "the generated admin token works"
    );
    restarted.kill().unwrap();
    restarted.wait().unwrap();
}

#[tokio::test]
async fn a_kek_that_differs_from_the_data_directorys_is_refused_naming_both() {
    let dir = TempDir::new();
    let data = dir.0.join("data");
    std::fs::create_dir_all(&data).unwrap();
    std::fs::write(data.join("kek"), crate::helpers::test_kek()).unwrap();
    let other = base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        <sha2::Sha256 as sha2::Digest>::digest(b"another kek"),
    );
    let out = serve(&data, free_port(), free_port())
        .env("TESSERA_KEK", &other)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("TESSERA_KEK") && stderr.contains(&data.join("kek").display().to_string()),
        "{stderr}"
    );
    assert!(
        !stderr.contains(&other),
        "the key is never printed: {stderr}"
    );
}

#[tokio::test]
async fn a_data_directory_that_is_a_file_is_a_configuration_error_naming_it() {
    let dir = TempDir::new();
    let file = dir.0.join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let out = serve(&file, free_port(), free_port()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("TESSERA_DATA_DIR") && stderr.contains("not a directory"),
        "{stderr}"
    );
}

/// A CLI command on the data directory `dir`.
fn cli(dir: &std::path::Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("TESSERA_DATA_DIR", dir)
        .output()
        .unwrap()
}

/// The revocation feed as the confidential client `reader` sees it after `after`:
/// (status, body).
async fn feed_after(
    http: &reqwest::Client,
    public: u16,
    reader: &(String, String),
    after: Option<&str>,
) -> (StatusCode, Value) {
    let mut url = format!("http://127.0.0.1:{public}/oauth2/revocations?limit=1000");
    if let Some(after) = after {
        url.push_str(&format!("&after={after}"));
    }
    let answer = http
        .get(url)
        .basic_auth(&reader.0, Some(&reader.1))
        .fetch()
        .await;
    (answer.status(), answer.json().await.unwrap_or(Value::Null))
}

async fn revoke_session(http: &reqwest::Client, public: u16) {
    let tokens = password_grant(http, public).await;
    let revoked = http
        .post(format!("http://127.0.0.1:{public}/oauth2/revoke"))
        .form(&[
            ("token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", "spa"),
        ])
        .fetch()
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_backup_taken_while_serving_restores_into_a_working_issuer() {
    let dir = TempDir::new();
    let (data, restored) = (dir.0.join("data"), dir.0.join("restored"));
    let (public, admin) = (free_port(), free_port());
    let mut running = started(serve(&data, public, admin), public).await;
    let http = reqwest::Client::new();
    register(&http, public).await;
    let created = cli(
        &data,
        &[
            "clients",
            "create",
            "--name",
            "verifier",
            "--grant",
            "client_credentials",
        ],
    );
    let created: Value = serde_json::from_slice(&created.stdout).unwrap();
    let reader = (
        created["client_id"].as_str().unwrap().to_owned(),
        created["client_secret"].as_str().unwrap().to_owned(),
    );
    revoke_session(&http, public).await;

    // the umask would make the copy world-readable: it holds password hashes and keys
    let copy = dir.0.join("copy.db");
    let out = cli(&data, &["backup", copy.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mode = std::fs::metadata(&copy).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the backup is the owner's only: {mode:o}");
    let again = cli(&data, &["backup", copy.to_str().unwrap()]);
    assert!(
        !again.status.success(),
        "an existing file is never overwritten"
    );
    // revocations after the backup, which a verifier reads past
    revoke_session(&http, public).await;
    revoke_session(&http, public).await;
    let (status, read) = feed_after(&http, public, &reader, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["events"].as_array().unwrap().len(), 3, "{read}");
    let cursor = read["next"].as_str().unwrap().to_owned();
    running.kill().unwrap();
    running.wait().unwrap();

    std::fs::create_dir_all(&restored).unwrap();
    std::fs::copy(&copy, restored.join("tessera.db")).unwrap();
    std::fs::copy(data.join("kek"), restored.join("kek")).unwrap();
    let (public, admin) = (free_port(), free_port());
    let mut restarted = started(serve(&restored, public, admin), public).await;
    let tokens = password_grant(&http, public).await;
    assert!(tokens["access_token"].is_string(), "{tokens}");
    // the restored store is a new epoch: the verifier's cursor would otherwise skip the
    // events written here under the positions it already read past
    revoke_session(&http, public).await;
    let (status, body) = feed_after(&http, public, &reader, Some(&cursor)).await;
    assert_eq!(status, StatusCode::GONE, "{body}");
    let (status, afresh) = feed_after(&http, public, &reader, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(afresh["events"].as_array().unwrap().len(), 2, "{afresh}");
    restarted.kill().unwrap();
    restarted.wait().unwrap();
}

#[tokio::test]
async fn a_database_file_tessera_did_not_write_is_refused_and_left_as_it_was() {
    let dir = TempDir::new();
    let data = dir.0.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let db = data.join("tessera.db");
    std::fs::write(&db, b"this is not a database, and it is someone's data").unwrap();
    let out = serve(&data, free_port(), free_port()).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("not a usable SQLite database")
            && stderr.contains(&db.display().to_string()),
        "{stderr}"
    );
    assert_eq!(
        std::fs::read(&db).unwrap(),
        b"this is not a database, and it is someone's data"
    );

    std::fs::remove_file(&db).unwrap();
    let other = rusqlite::Connection::open(&db).unwrap();
    other
        .execute_batch("CREATE TABLE invoices (id INTEGER PRIMARY KEY)")
        .unwrap();
    drop(other);
    let out = serve(&data, free_port(), free_port()).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a tessera database"), "{stderr}");
}

#[tokio::test]
async fn a_kill_9_under_refresh_load_loses_no_answered_rotation_and_half_rotates_no_family() {
    let dir = TempDir::new();
    let data = dir.0.join("data");
    let (public, admin) = (free_port(), free_port());
    let mut server = started(serve(&data, public, admin), public).await;
    let http = reqwest::Client::new();
    register(&http, public).await;
    // 8 sessions: the default login limit (10 per address) stays on
    let mut latest = Vec::new();
    for _ in 0..8 {
        let tokens = password_grant(&http, public).await;
        latest.push(tokens["refresh_token"].as_str().unwrap().to_owned());
    }
    let latest = std::sync::Arc::new(std::sync::Mutex::new(latest));
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));

    // every session refreshes in a loop; each answered rotation replaces its latest token
    let loops: Vec<_> = (0..8)
        .map(|i| {
            let (http, latest, answered) = (http.clone(), latest.clone(), answered.clone());
            tokio::spawn(async move {
                loop {
                    let token = latest.lock().unwrap()[i].clone();
                    let sent = http
                        .post(format!("http://127.0.0.1:{public}/oauth2/token"))
                        .form(&[
                            ("grant_type", "refresh_token"),
                            ("client_id", "spa"),
                            ("refresh_token", token.as_str()),
                        ])
                        .send()
                        .await;
                    let Ok(response) = sent else { return };
                    let Ok(body) = response.json::<Value>().await else {
                        return;
                    };
                    if let Some(next) = body["refresh_token"].as_str() {
                        latest.lock().unwrap()[i] = next.to_owned();
                        answered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    server.kill().unwrap(); // SIGKILL, mid-load
    server.wait().unwrap();
    for task in loops {
        let _ = task.await;
    }
    let answered = answered.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        answered > 100,
        "the load ran before the kill: {answered} rotations answered"
    );

    let mut restarted = started(serve(&data, public, admin), public).await;
    let tokens = latest.lock().unwrap().clone();
    for (i, token) in tokens.iter().enumerate() {
        let response = refresh(&http, public, token).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(
            status,
            StatusCode::OK,
            "session {i}: the last answered token rotates: {body}"
        );
    }
    restarted.kill().unwrap();
    restarted.wait().unwrap();
}

/// Runs `script` (bash) in a mount namespace of its own (`unshare -rm`: no root needed
/// where user namespaces are allowed), so it can mount a small or read-only tmpfs.
fn in_mount_namespace(script: &str) -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args(["-rm", "bash", "-c", script])
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SERVE_BIN", env!("CARGO_BIN_EXE_tessera"));
    cmd
}

#[tokio::test]
async fn a_data_directory_that_cannot_be_written_is_a_configuration_error_naming_it() {
    let dir = TempDir::new();
    let script = r#"set -e
        mount -t tmpfs -o size=1m,ro tessera-ro "$MOUNT"
        exec "$SERVE_BIN" serve"#;
    let out = in_mount_namespace(script)
        .env("MOUNT", &dir.0)
        .env("TESSERA_DATA_DIR", &dir.0)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("unshare:"),
        "this test needs `unshare -rm` (user namespaces): {stderr}"
    );
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("TESSERA_DATA_DIR")
            && stderr.contains(&format!("{} is not writable", dir.0.display())),
        "{stderr}"
    );
}

/// A `tessera serve` on a 16 MB tmpfs that the test can fill up and free again, and
/// stop to check the database file, by writing `fill`, `free` or `stop` to its stdin.
struct FullDisk {
    shell: Child,
    replies: std::io::Lines<std::io::BufReader<std::process::ChildStdout>>,
}

impl FullDisk {
    fn command(&mut self, command: &str) -> String {
        use std::io::Write;
        let stdin = self.shell.stdin.as_mut().unwrap();
        writeln!(stdin, "{command}").unwrap();
        stdin.flush().unwrap();
        self.replies.next().unwrap().unwrap()
    }
}

#[tokio::test]
async fn a_full_disk_answers_writes_503_with_retry_after_keeps_reads_and_corrupts_nothing() {
    let dir = TempDir::new();
    let public = free_port();
    let script = r#"set -e
        mount -t tmpfs -o size=16m tessera-full "$MOUNT"
        "$SERVE_BIN" serve >"$MOUNT.log" 2>&1 &
        pid=$!
        while read -r command; do
          case "$command" in
            fill) dd if=/dev/zero of="$MOUNT/filler" bs=64k 2>/dev/null || true; echo filled ;;
            free) rm -f "$MOUNT/filler"; echo freed ;;
            stop)
              kill "$pid"; wait "$pid" || true
              python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("PRAGMA integrity_check").fetchone()[0])' "$MOUNT/data/tessera.db"
              exit 0 ;;
          esac
        done"#;
    let mut shell = in_mount_namespace(script)
        .env("MOUNT", &dir.0)
        .env("TESSERA_DATA_DIR", dir.0.join("data"))
        .env("TESSERA_PUBLIC_ADDR", format!("127.0.0.1:{public}"))
        .env("TESSERA_ADMIN_ADDR", format!("127.0.0.1:{}", free_port()))
        .env("TESSERA_HTTP_WORKERS", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = shell.stdout.take().unwrap();
    let mut disk = FullDisk {
        shell,
        replies: std::io::BufRead::lines(std::io::BufReader::new(stdout)),
    };
    let http = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !http
        .get(format!("http://127.0.0.1:{public}/healthz"))
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
    {
        assert!(
            Instant::now() < deadline,
            "tessera serve did not come up on the tmpfs (does `unshare -rm` work here?)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    register(&http, public).await;
    let tokens = password_grant(&http, public).await;
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let mut current = tokens["refresh_token"].as_str().unwrap().to_owned();

    assert_eq!(disk.command("fill"), "filled");
    // writes already allocated in the WAL may still fit: rotate until one does not
    let mut refused = None;
    for _ in 0..5000 {
        let answer = refresh(&http, public, &current).await;
        match answer.status() {
            StatusCode::OK => {
                let body: Value = answer.json().await.unwrap();
                current = body["refresh_token"].as_str().unwrap().to_owned();
            }
            status => {
                refused = Some((
                    status,
                    answer.headers().clone(),
                    answer.text().await.unwrap(),
                ));
                break;
            }
        }
    }
    let (status, headers, body) = refused.expect("no write failed on a full disk");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert!(headers.contains_key("retry-after"), "{headers:?}");
    assert!(!body.contains("sqlite") && !body.contains("disk"), "{body}");

    // reads go on
    let jwks = http
        .get(format!("http://127.0.0.1:{public}/.well-known/jwks.json"))
        .fetch()
        .await;
    assert_eq!(jwks.status(), StatusCode::OK);
    let userinfo = http
        .get(format!("http://127.0.0.1:{public}/oauth2/userinfo"))
        .bearer_auth(&access)
        .fetch()
        .await;
    assert_eq!(userinfo.status(), StatusCode::OK, "tokens still verify");

    // space back: the refused rotation never happened, so the same token rotates now
    assert_eq!(disk.command("free"), "freed");
    let again = refresh(&http, public, &current).await;
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(disk.command("stop"), "ok", "PRAGMA integrity_check");
    let _ = disk.shell.wait();
    let log_file = dir.0.with_extension("log");
    let log = std::fs::read_to_string(&log_file).unwrap_or_default();
    let _ = std::fs::remove_file(&log_file);
    assert!(
        log.contains("database or disk is full"),
        "the 503 was the full disk: {log}"
    );
}

/// Book § Architecture: what expires goes by itself. Redis drops expired keys; the embedded store's
/// background loop deletes expired sessions and blocklist entries each tick, in bounded
/// batches, with no request doing it.
#[tokio::test]
async fn the_background_loop_deletes_expired_sessions_and_blocklist_entries() {
    use std::sync::Arc;
    use tessera::clock::FixedClock;

    let db = Arc::new(crate::helpers::TestDb::on(crate::helpers::Backend::Embedded).await);
    let clock = Arc::new(FixedClock::starting_now());
    let app = crate::helpers::spawn_on_clock(
        db.clone(),
        &[("keyring_poll_interval", "1")],
        clock.clone(),
    )
    .await;
    let tokens = app.new_user_tokens("swept@example.com").await;
    let revoked = app
        .http
        .post(app.url("/oauth2/revoke"))
        .form(&[
            ("token", tokens["access_token"].as_str().unwrap()),
            ("client_id", "spa"),
        ])
        .fetch()
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    // a tick (1 s) or more passes: the live rows stay
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        db.count_rows("refresh_families").await,
        1,
        "nothing has expired yet"
    );
    assert_eq!(db.count_rows("jti_blocklist").await, 1);

    // past the session's absolute expiry (30 days) and the token's: gone within a tick
    clock.advance(Duration::from_secs(31 * 86_400));
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left = (
            db.count_rows("refresh_families").await,
            db.count_rows("jti_blocklist").await,
        );
        if left == (0, 0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "still there after 10 s: {left:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
