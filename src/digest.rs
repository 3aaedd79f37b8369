//! Short stable digests (sha256, hex): config hashes, applied-hashes, and the
//! identifiers derived from names that must fit a bound (Grafana uids). A leaf:
//! `limits`, `render` and `build` all use it.

use sha2::{Digest, Sha256};

/// Hex sha256 of some bytes.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

/// Hex sha256 of a value's compact JSON (what `serde_json::to_string` writes),
/// streamed into the hash: no intermediate string.
pub fn sha256_json_hex<T: serde::Serialize + ?Sized>(value: &T) -> String {
    struct Hasher(Sha256);
    impl std::io::Write for Hasher {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.update(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut h = Hasher(Sha256::new());
    // Writing to the hasher cannot fail, nor can serializing a `Value`; a type
    // that fails to serialize hashes what was written before the failure.
    let _ = serde_json::to_writer(&mut h, value);
    hex::encode(h.0.finalize())
}

/// The first 12 hex digits of the sha256 of a string: short stable identifiers.
pub fn sha256_short(s: &str) -> String {
    let mut h = sha256_hex(s.as_bytes());
    h.truncate(12);
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_sha256_in_hex() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(sha256_short("abc"), "ba7816bf8f01");
        let v = serde_json::json!({"b": [1, "x\"y"], "a": {"k": null}});
        assert_eq!(sha256_json_hex(&v), sha256_hex(v.to_string().as_bytes()));
    }
}
