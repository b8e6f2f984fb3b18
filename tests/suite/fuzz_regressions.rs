//! Crashes cargo-fuzz found (bench/fuzz.sh), each kept as a plain test with
//! its input inline so it stays fixed without nightly or libFuzzer.

use depcache::server::{RangeSpec, parse_range};

/// fuzz target `range`, crash-7d521769: `end + 1` overflowed on the largest
/// u64 end (a debug build panicked; a release build wrapped to an empty range
/// and answered 416 to a valid request).
#[test]
fn range_with_the_largest_end_is_the_rest_of_the_bundle() {
    assert_eq!(
        parse_range("bytes=8184471-18446744073709551615", 0x200d_0020_2701_3064),
        RangeSpec::Satisfiable(8184471..0x200d_0020_2701_3064)
    );
    assert_eq!(
        parse_range("bytes=0-18446744073709551615", 100),
        RangeSpec::Satisfiable(0..100)
    );
}
