//! Short stable digests (sha256, hex): config hashes, applied-hashes, and the
//! identifiers derived from names that must fit a bound (Grafana uids). A leaf:
//! `limits`, `render` and `build` all use it.

use sha2::{Digest, Sha256};

/// Hex sha256 of some bytes.
pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
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
    }
}
