//! Unit tests of `reply`.

use super::*;

#[test]
fn intent_words_are_case_and_space_insensitive() {
    let words = IntentWords::default();
    assert_eq!(words.action("  Sim "), Some(Action::Confirm));
    assert_eq!(words.action("NÃO"), Some(Action::Cancel));
    assert_eq!(words.action("3"), Some(Action::Attendant));
    assert_eq!(words.action("talvez"), None);
}
