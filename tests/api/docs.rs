//! The manual in `docs/` (an mdBook) and the one-page README: the book builds without a
//! warning, its configuration reference lists exactly the settings the parser reads, and
//! every link the README gives leads to a file that exists.

use std::collections::BTreeSet;
use std::path::Path;

use crate::helpers::TempDir;

const ROOT: &str = env!("CARGO_MANIFEST_DIR");

#[test]
fn the_book_builds_without_a_warning() {
    let out = TempDir::new();
    let built = std::process::Command::new("mdbook")
        .args(["build", "docs", "--dest-dir"])
        .arg(&out.0)
        .current_dir(ROOT)
        .output()
        .unwrap_or_else(|e| {
            panic!("mdbook is not installed ({e}): `bash scripts/setup` installs it")
        });
    let log = String::from_utf8_lossy(&built.stderr);
    assert!(built.status.success(), "mdbook build failed:\n{log}");
    let complaints: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("[WARN]") || l.contains("[ERROR]"))
        .collect();
    assert!(
        complaints.is_empty(),
        "mdbook warned:\n{}",
        complaints.join("\n")
    );
    for page in ["configuration.html", "security.html", "architecture.html"] {
        assert!(out.0.join(page).is_file(), "{page} was not built");
    }
}

/// The variables named in the first column of the configuration table.
fn documented_settings() -> BTreeSet<String> {
    let text = std::fs::read_to_string(Path::new(ROOT).join("docs/src/configuration.md")).unwrap();
    text.lines()
        .filter(|l| l.starts_with("| `"))
        .filter_map(|l| l.split('|').nth(1))
        .flat_map(|cell| cell.split('`').skip(1).step_by(2).map(str::to_owned))
        .collect()
}

#[test]
fn the_configuration_reference_lists_exactly_the_settings_the_parser_reads() {
    let read: BTreeSet<String> = tessera::config::Settings::names()
        .iter()
        .map(|name| tessera::config::source::env_name(name))
        .collect();
    assert!(read.contains("TESSERA_ISSUER") && read.contains("DATABASE_URL"));
    let documented = documented_settings();
    let missing: Vec<&String> = read.difference(&documented).collect();
    let stale: Vec<&String> = documented.difference(&read).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "docs/src/configuration.md does not match the settings: not documented {missing:?}, \
         documented but not read {stale:?}"
    );
}

#[test]
fn the_readme_is_one_page_and_its_links_lead_somewhere() {
    let readme = std::fs::read_to_string(Path::new(ROOT).join("README.md")).unwrap();
    let lines = readme.lines().count();
    assert!(
        lines <= 80,
        "README.md has {lines} lines: the manual belongs in docs/"
    );
    let links: Vec<&str> = readme
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split(')').next())
        .filter(|target| !target.starts_with("http"))
        .collect();
    assert!(links.len() >= 8, "the README links to the book: {links:?}");
    for target in links {
        let file = target.split('#').next().unwrap();
        assert!(
            Path::new(ROOT).join(file).is_file(),
            "README.md links to {target}, which does not exist"
        );
    }
}
