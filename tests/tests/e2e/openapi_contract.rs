//! The OpenAPI document says what the API does: schemathesis (an outside OpenAPI fuzzer, pinned
//! in tests/contract/requirements.txt, installed by scripts/test-deps) generates requests from
//! the document served at /api/v1/openapi.json and checks the live server's answers against it —
//! every status code and content type documented, every body matching its schema, requests
//! that break the schema refused, no 5xx — as a resident and as a clerk.
//!
//! `positive_data_acceptance` (every schema-valid request accepted, or refused only for the state
//! it finds: 401, 403, 404, 409, 429) runs on every operation but those that carry an
//! application's form (the applications', and a consultation's new application): its
//! `form_data` is checked against the procedure catalog, which a JSON schema cannot express (such
//! a form is refused with a documented 422). So the document says what the server accepts: names
//! that are not only spaces or control characters, the office's departments (known at start),
//! language tags, ports. Logout is left out because it would end the session the run uses (its
//! own tests are in records.rs).

use madoguchi_tests::Harness;
use std::path::PathBuf;
use std::process::Command;

fn schemathesis() -> PathBuf {
    let st = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/contract/.venv/bin/st"));
    assert!(st.exists(), "{} is missing: run scripts/test-deps (scripts/test does)", st.display());
    st
}

/// Runs schemathesis against the operations `filter` selects, as `token`; panics with its
/// report if any check fails. `checks`: schemathesis' `--checks` and `--exclude-checks`.
fn run(h: &Harness, token: &str, checks: &[&str], filter: &[&str]) {
    let out = Command::new(schemathesis())
        .arg("run")
        .arg(format!("{}/api/v1/openapi.json", h.base()))
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(checks)
        .args(["--exclude-path", "/api/v1/sessions/logout"])
        .args(filter)
        .args(["--max-examples", "15", "--seed", "20261130", "--no-color"])
        .current_dir(std::env::temp_dir())
        .output()
        .expect("run schemathesis");
    let report = String::from_utf8_lossy(&out.stdout);
    let summary: Vec<&str> = report.lines().filter(|l| l.contains("generated") || l.contains("passed")).collect();
    eprintln!("schemathesis {filter:?}: {}", summary.join(" | "));
    assert!(
        out.status.success(),
        "the API does not do what its document says:\n{report}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(report.contains("generated"), "schemathesis ran no cases:\n{report}");
}

#[test]
fn real_responses_match_the_openapi_document() {
    // Limits off, so the fuzzer reaches the logic behind them (their 429s are documented and
    // tested elsewhere).
    let h = Harness::start(&[
        "--always-open",
        "--sessions-per-minute",
        "0",
        "--tickets-per-minute",
        "0",
        "--resident-writes-per-minute",
        "0",
    ]);
    let resident = h.guest("Fuzz");
    let all_but_acceptance = ["--checks", "all", "--exclude-checks", "positive_data_acceptance"];
    run(&h, &resident, &all_but_acceptance, &["--exclude-path-regex", "^/api/v1/staff"]);
    let clerk = h.clerk("fuzz.clerk", "taxation");
    run(&h, &clerk, &all_but_acceptance, &["--include-path-regex", "^/api/v1/staff"]);
    // Every request the document allows is accepted (or refused only for the state it finds:
    // 401/403/404/409/429), but for forms, which the catalog checks and the schema cannot
    // describe (the applications' form data).
    let acceptance = ["--checks", "positive_data_acceptance"];
    run(&h, &resident, &acceptance, &["--exclude-path-regex", "^/api/v1/(staff|applications)"]);
    run(
        &h,
        &clerk,
        &acceptance,
        &["--include-path-regex", "^/api/v1/staff/(?!applications|consultations/[^/]+/applications)"],
    );
}
