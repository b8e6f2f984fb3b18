//! The two identities everything is addressed by: a cache [`Key`] and a
//! content [`Sha256`]. Each is checked once where it enters (a path
//! parameter, a parsed index, a command-line argument) and then carried as a
//! type, so nothing downstream checks again and nobody converts between hex
//! and bytes by hand. On the wire and on disk both stay lowercase hex
//! strings, exactly as before.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::ValidationError;

/// A SHA-256 digest, kept as its 32 bytes; shown and serialized as 64
/// lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Sha256([u8; 32]);

impl Sha256 {
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Sha256(bytes)
    }

    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Only the lowercase form is accepted: the hex becomes file and object
    /// names, and two spellings of one digest would be two names.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        parse_hex(text)
            .map(Sha256)
            .ok_or_else(|| ValidationError::Sha256(shown(text)))
    }
}

/// A cache key: the SHA-256 of the key recipe (`compute_key`). A type of its
/// own so a key and a file's digest cannot be swapped unnoticed.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Key([u8; 32]);

impl Key {
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Key(bytes)
    }

    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Keys are lowercase hex sha256: they become file names in the store.
    pub fn parse(text: &str) -> Result<Self, ValidationError> {
        parse_hex(text)
            .map(Key)
            .ok_or_else(|| ValidationError::Key(shown(text)))
    }
}

fn parse_hex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(text, &mut out).ok()?;
    Some(out)
}

/// A hostile value is quoted in the error, but never more than 80 characters.
fn shown(text: &str) -> String {
    text.chars().take(80).collect()
}

fn write_hex(bytes: &[u8; 32], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let mut buf = [0u8; 64];
    // Cannot fail: the buffer is exactly twice the input.
    hex::encode_to_slice(bytes, &mut buf).map_err(|_| fmt::Error)?;
    f.write_str(std::str::from_utf8(&buf).map_err(|_| fmt::Error)?)
}

macro_rules! hex_identity {
    ($name:ident) => {
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write_hex(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }

        impl FromStr for $name {
            type Err = ValidationError;
            fn from_str(text: &str) -> Result<Self, ValidationError> {
                $name::parse(text)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                $name::parse(&text).map_err(serde::de::Error::custom)
            }
        }
    };
}

hex_identity!(Sha256);
hex_identity!(Key);

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "00ff0123456789abcdef00000000000000000000000000000000000000000001";

    #[test]
    fn hex_round_trips_through_display_and_serde_as_the_same_string() {
        let key = Key::parse(HEX).unwrap();
        assert_eq!(key.to_string(), HEX);
        assert_eq!(serde_json::to_string(&key).unwrap(), format!("\"{HEX}\""));
        let back: Key = serde_json::from_str(&format!("\"{HEX}\"")).unwrap();
        assert_eq!(back, key);
        let sha = Sha256::parse(HEX).unwrap();
        assert_eq!(sha.as_bytes()[..2], [0x00, 0xff]);
        assert_eq!(Sha256::from_bytes(*sha.as_bytes()).to_string(), HEX);
        assert_eq!(serde_json::to_string(&sha).unwrap(), format!("\"{HEX}\""));
    }

    #[test]
    fn only_64_lowercase_hex_digits_are_an_identity() {
        for bad in [
            "",
            "../x",
            &HEX.to_uppercase(),
            &HEX[..63],
            &format!("{HEX}0"),
            &format!("{}g", &HEX[..63]),
        ] {
            assert!(Key::parse(bad).is_err(), "{bad:?}");
            assert!(Sha256::parse(bad).is_err(), "{bad:?}");
            assert!(serde_json::from_str::<Key>(&format!("{bad:?}")).is_err());
        }
        let long = "x".repeat(500);
        let message = Key::parse(&long).unwrap_err().to_string();
        assert!(message.len() < 200, "{message}");
    }
}
