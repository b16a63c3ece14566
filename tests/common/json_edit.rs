//! Edits of JSON documents for tests that break a valid spec in one place, and the crate's
//! own files by path. Included with `#[path]` by the tests that use it.

#![allow(dead_code)]

use std::path::{Path, PathBuf};

use serde_json::Value;

/// A file of this crate, by its path from the crate's root.
pub fn crate_path(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// `doc` with the value at `pointer` replaced.
pub fn edit(mut doc: Value, pointer: &str, value: Value) -> Value {
    *doc.pointer_mut(pointer)
        .unwrap_or_else(|| panic!("no {pointer} to edit")) = value;
    doc
}

/// `doc` with `key` set in the object at `pointer`.
pub fn insert(mut doc: Value, pointer: &str, key: &str, value: Value) -> Value {
    doc.pointer_mut(pointer)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("no object at {pointer}"))
        .insert(key.to_owned(), value);
    doc
}

/// `doc` without `key` in the object at `pointer` (which must have it).
pub fn remove(mut doc: Value, pointer: &str, key: &str) -> Value {
    doc.pointer_mut(pointer)
        .and_then(Value::as_object_mut)
        .unwrap_or_else(|| panic!("no object at {pointer}"))
        .remove(key)
        .unwrap_or_else(|| panic!("no {key} at {pointer}"));
    doc
}
