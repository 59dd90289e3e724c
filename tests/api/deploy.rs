//! Issue 12 (SPEC S13, S17): the deployment files keep the admin plane private, pass the
//! KEK and admin tokens as files, and set the trusted proxies for an ingress.

#[test]
fn deployment_files_keep_the_admin_port_private_and_secrets_in_files() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = std::process::Command::new("python3")
        .args([&format!("{root}/tests/interop/check_deploy.py"), root])
        .output()
        .expect("python3 is needed: bash scripts/test installs the interop requirements");
    assert!(
        out.status.success(),
        "deployment files:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
