//! Issue 12 (book § Layout, book § Running many instances): the deployment files keep the admin plane private, pass the
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

/// Runs a validator; (success, stdout + stderr).
fn validate(program: &str, args: &[&str]) -> (bool, String) {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program} is needed ({e}): bash scripts/test installs it"));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn the_systemd_unit_verifies_and_its_exposure_is_low() {
    let root = env!("CARGO_MANIFEST_DIR");
    let unit = std::fs::read_to_string(format!("{root}/deploy/systemd/tessera.service")).unwrap();
    // the unit names the installed binary; verify checks that it exists
    let unit = unit.replace("/usr/local/bin/tessera", env!("CARGO_BIN_EXE_tessera"));
    let dir = crate::helpers::TempDir::new();
    let file = dir.0.join("tessera.service");
    std::fs::write(&file, &unit).unwrap();
    let file = file.display().to_string();
    let (ok, text) = validate("systemd-analyze", &["verify", &file]);
    assert!(
        ok && text.trim().is_empty(),
        "systemd-analyze verify: {text}"
    );
    // the exposure score (0 best, 10 worst) must stay at 2.0 or below
    let (ok, text) = validate(
        "systemd-analyze",
        &["security", "--offline=true", "--threshold=20", &file],
    );
    assert!(ok, "systemd-analyze security: {text}");
    assert!(
        text.contains("Overall exposure level for tessera.service: 1."),
        "{text}"
    );

    // and the check can fail: an unknown directive is reported
    std::fs::write(
        &file,
        unit.replace("ProtectSystem=strict", "ProtectSystm=strict"),
    )
    .unwrap();
    let (_, text) = validate("systemd-analyze", &["verify", &file]);
    assert!(text.contains("ProtectSystm"), "{text}");
}

#[test]
fn the_kubernetes_manifests_pass_strict_schema_validation() {
    let root = env!("CARGO_MANIFEST_DIR");
    let manifests = format!("{root}/deploy/k8s/tessera.yaml");
    let (ok, text) = validate(
        "kubernetes-validate",
        &["--strict", "-k", "1.31.0", &manifests],
    );
    assert!(ok, "kubernetes-validate: {text}");
    for kind in [
        "deployment",
        "service",
        "poddisruptionbudget",
        "networkpolicy",
    ] {
        assert!(
            text.contains(&format!("resource {kind}/")),
            "{kind} not validated: {text}"
        );
    }
    // and a misspelt field fails it
    let dir = crate::helpers::TempDir::new();
    let broken = dir.0.join("broken.yaml");
    let yaml = std::fs::read_to_string(&manifests).unwrap();
    std::fs::write(&broken, yaml.replacen("replicas: 2", "replicaz: 2", 1)).unwrap();
    let (ok, text) = validate(
        "kubernetes-validate",
        &["--strict", &broken.display().to_string()],
    );
    assert!(!ok, "a misspelt field passed: {text}");
}
