//! The shared SDK corpus is what the Rust `filter` and `json-schema` plugins
//! do: this test runs them over it and compares. `WEIR_BLESS=1` rewrites the
//! expected files from the Rust plugins instead (review the diff).

use weir_tests::plugin;
use weir_tests::sdk::{Observed, cases, expected, run_case, write_expected};

#[test]
fn rust_plugins_produce_the_corpus() {
    let bless = std::env::var_os("WEIR_BLESS").is_some();
    let cases = cases();
    let mut rejected = 0;
    let mut init_failures = 0;
    for case in &cases {
        let observed = run_case(&plugin(&case.plugin), case);
        match &observed {
            Observed::InitFailed(_) => init_failures += 1,
            Observed::Ran { dead, .. } => rejected += dead.len(),
        }
        if bless {
            write_expected(case, &observed);
        } else {
            assert_eq!(expected(case), observed, "case {}", case.name);
        }
    }
    // The corpus exercises refusals and init errors, not only the happy path.
    assert!(rejected > 20, "{rejected} rejections");
    assert!(init_failures >= 8, "{init_failures} init failures");
}
