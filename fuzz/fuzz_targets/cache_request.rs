//! `POST /v1/cache` bodies: parsing and validation never panic, and whatever
//! validation accepts is safe to become file names, command-line versions and
//! a store key.
#![no_main]

use depcache::protocol::{CacheRequest, Key, check_platform, check_version, compute_key};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(request) = serde_json::from_slice::<CacheRequest>(data) else {
        return;
    };
    let Ok(valid) = request.validate() else {
        return;
    };
    assert!(valid.files.contains_key(valid.manager.manifest()));
    for name in valid.files.keys() {
        assert!(
            valid.manager.allowed_files().contains(&name.as_str()),
            "{name:?}"
        );
        assert!(
            !name.contains(['/', '\\', '\0']) && !name.starts_with('.'),
            "{name:?}"
        );
    }
    for (name, value) in &valid.versions {
        assert!(check_version(name, value).is_ok());
        // Versions reach command lines and image names: no shell or path bytes.
        assert!(
            value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b".+-".contains(&b)),
            "{value:?}"
        );
    }
    if let Some(platform) = &valid.platform {
        assert!(check_platform(platform).is_ok());
    }
    // `valid.hash` is a `Key`: its spelling round-trips.
    assert_eq!(Key::parse(&valid.hash.to_string()).ok(), Some(valid.hash));
    let key = compute_key(valid.key_input());
    assert!(Key::parse(&key).is_ok());
});
