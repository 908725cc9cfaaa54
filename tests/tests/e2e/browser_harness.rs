//! The browser tests' own harness (`tests/browser/lib.mjs`), against stand-ins for Chromium.

use madoguchi_tests::browser_report;

/// A CI run lost a test to a Chromium that died by SIGSEGV while it started, before it opened a
/// page. `launch()` starts such a Chromium again, at most three times in all; a Chromium that
/// exits with an error is not retried (`tests/browser/launch_retry.mjs`).
#[test]
fn a_chromium_that_dies_while_starting_is_started_again_and_nothing_else_is() {
    let report = browser_report("launch_retry.mjs", &[]);
    assert_eq!(report["flakyStarts"], 3, "{report}");
    assert_eq!(report["deadStarts"], 3, "{report}");
    assert_eq!(report["brokenStarts"], 1, "{report}");
}
