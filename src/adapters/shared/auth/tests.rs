//! Unit tests of `auth`.

use super::*;

#[test]
fn same_secret_is_whole_equality() {
    assert!(same_secret(b"abc", b"abc"));
    assert!(!same_secret(b"abc", b"abd"));
    assert!(!same_secret(b"abc", b"ab"));
    assert!(same_secret(b"", b""));
}
