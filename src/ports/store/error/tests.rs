//! Unit tests of `error`.

use super::*;

#[test]
fn the_source_is_reachable_and_shared_by_clones() {
    let io = std::io::Error::other("disk full");
    let error = StoreError::conflict("saving").with_source(io);
    let clone = error.clone();
    assert_eq!(
        clone.source().map(ToString::to_string).as_deref(),
        Some("disk full")
    );
    assert_eq!(clone, error);
    assert_eq!(error.to_string(), "store conflict: saving");
    assert!(format!("{error:?}").contains("disk full"));
    assert!(StoreError::corrupt("x").source().is_none());
    assert_ne!(StoreError::corrupt("x"), StoreError::unavailable("x"));
}
