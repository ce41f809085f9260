//! Test macros: [`sandbox_or_skip!`](crate::sandbox_or_skip) and [`require!`](crate::require).

/// Evaluates to a sandbox for the current test, or prints `SKIP <test>: <reason>` to standard
/// error and `return`s from the test function.
///
/// * `sandbox_or_skip!()` builds a [`Sandbox`](crate::Sandbox);
/// * `sandbox_or_skip!(expr)` evaluates `expr`, a `Result<T, netfilter_testkit::Error>`, for other
///   topologies: `sandbox_or_skip!(TwoHosts::new())`.
///
/// When the process is not root, the test is re-executed in a new user namespace (see
/// [`rootless`](crate::rootless)): the outer test then passes or fails with the inner run, and
/// returns here. An error that is not a machine limitation (see
/// [`Error::skip_reason`](crate::Error::skip_reason)) fails the test.
///
/// The test function must return `()`.
#[macro_export]
macro_rules! sandbox_or_skip {
    () => {
        $crate::sandbox_or_skip!($crate::Sandbox::new())
    };
    ($make:expr) => {
        match $crate::rootless::test_entry() {
            $crate::rootless::TestEntry::Proceed => match $make {
                ::core::result::Result::Ok(made) => made,
                ::core::result::Result::Err(error) => match error.skip_reason() {
                    ::core::option::Option::Some(reason) => {
                        ::std::eprintln!(
                            "SKIP {}: {}",
                            $crate::rootless::current_test_name(),
                            reason
                        );
                        return;
                    }
                    ::core::option::Option::None => {
                        ::core::panic!("cannot build the test sandbox: {error}")
                    }
                },
            },
            $crate::rootless::TestEntry::Skip(reason) => {
                ::std::eprintln!("SKIP {}: {}", $crate::rootless::current_test_name(), reason);
                return;
            }
            $crate::rootless::TestEntry::RanInChild(output) => {
                ::std::eprint!("{output}");
                return;
            }
            $crate::rootless::TestEntry::ChildFailed(output) => {
                ::core::panic!("the test failed in a user namespace:\n{output}")
            }
        }
    };
}

/// Skips the current test (prints `SKIP <test>: <reason>` and `return`s) unless the kernel and
/// tools support every listed [`Feature`](crate::probe::Feature).
///
/// Probes run once per process, in a throwaway namespace (see [`probe`](crate::probe)). Use it
/// after [`sandbox_or_skip!`](crate::sandbox_or_skip), so that rootless runs probe inside their
/// user namespace.
///
/// ```no_run
/// use netfilter_testkit::{probe::Feature, require, sandbox_or_skip};
///
/// #[test]
/// fn nft_queue() {
///     let sandbox = sandbox_or_skip!();
///     require!(Feature::NftQueue);
///     // ...
/// }
/// ```
#[macro_export]
macro_rules! require {
    ($($feature:expr),+ $(,)?) => {
        $(
            if let ::core::result::Result::Err(error) = $crate::probe::require($feature) {
                ::std::eprintln!(
                    "SKIP {}: {}",
                    $crate::rootless::current_test_name(),
                    error.skip_reason().unwrap_or_else(|| error.to_string())
                );
                return;
            }
        )+
    };
}
