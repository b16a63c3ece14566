//! Unit tests of `phone`.

use super::*;

#[test]
fn clean_keeps_digits_and_international_prefix() {
    assert_eq!(clean("(11) 99999-1234").as_deref(), Ok("11999991234"));
    assert_eq!(clean(" +55 11 99999.1234").as_deref(), Ok("+5511999991234"));
    assert_eq!(clean("0055 11 99999 1234").as_deref(), Ok("+5511999991234"));
    assert!(clean("11 9999x1234").is_err());
    assert!(clean("1+1234567").is_err());
    assert!(clean("+12").is_err());
    assert!(clean("123456789012345678").is_err());
    assert!(clean("١٢٣٤٥٦٧").is_err());
}

#[test]
fn numbers_take_the_default_country_unless_they_name_their_own() {
    let br = region("br").unwrap();
    let national = e164("(11) 99999-8888", br).unwrap();
    assert_eq!(national.digits, "5511999998888");
    assert_eq!(national.country_code, 55);
    let international = e164("+56 9 6123 4567", br).unwrap();
    assert_eq!(
        (international.digits.as_str(), international.country_code),
        ("56961234567", 56)
    );
    // The mapper's `phone` filter gives digits without `+`: read again, they stay the
    // same number.
    assert_eq!(e164("5511999998888", br).unwrap(), national);
    assert!(e164("123", br).is_err());
    assert!(region("XX").is_none());
    assert!(region("").is_none());
}
