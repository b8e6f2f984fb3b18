//! `Range` headers against a bundle size: the server's parser agrees with a
//! reference computed without overflow, and a satisfiable range always lies
//! inside the bundle.
#![no_main]

use std::ops::Range;

use depcache::server::{RangeSpec, parse_range};
use libfuzzer_sys::fuzz_target;

/// The same rules in u128, where `end + 1` cannot overflow.
fn reference(spec: &str, total: u64) -> RangeSpec {
    let Some(set) = spec.trim().strip_prefix("bytes=") else {
        return RangeSpec::Ignored;
    };
    if set.contains(',') {
        return RangeSpec::Ignored;
    }
    let Some((start, end)) = set.trim().split_once('-') else {
        return RangeSpec::Ignored;
    };
    let parse = |s: &str| s.trim().parse::<u64>().ok().map(u128::from);
    let total_wide = u128::from(total);
    let (from, to): (u128, u128) = match (start.trim().is_empty(), end.trim().is_empty()) {
        (true, false) => match parse(end) {
            Some(0) => return RangeSpec::Unsatisfiable,
            Some(n) => (total_wide.saturating_sub(n), total_wide),
            None => return RangeSpec::Ignored,
        },
        (false, true) => match parse(start) {
            Some(s) => (s, total_wide),
            None => return RangeSpec::Ignored,
        },
        (false, false) => match (parse(start), parse(end)) {
            (Some(s), Some(e)) if s <= e => (s, (e + 1).min(total_wide)),
            _ => return RangeSpec::Ignored,
        },
        (true, true) => return RangeSpec::Ignored,
    };
    if from >= total_wide || from >= to {
        RangeSpec::Unsatisfiable
    } else {
        RangeSpec::Satisfiable(Range {
            start: from as u64,
            end: to as u64,
        })
    }
}

fuzz_target!(|input: (u64, &str)| {
    let (total, spec) = input;
    let got = parse_range(spec, total);
    if let RangeSpec::Satisfiable(r) = &got {
        assert!(
            r.start < r.end && r.end <= total,
            "{spec:?} of {total}: {r:?}"
        );
    }
    assert_eq!(got, reference(spec, total), "{spec:?} of {total}");
});
