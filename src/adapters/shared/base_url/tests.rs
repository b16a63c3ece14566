//! Unit tests of `base_url`.

use super::*;

#[test]
fn only_absolute_http_urls_with_a_host_are_base_urls() {
    for (text, error) in [
        ("ftp://x.example/a", "unsupported scheme `ftp`"),
        ("mailto:ops@example.com", "unsupported scheme `mailto`"),
        ("https://user:pw@x.example/", "user or password"),
        ("https://x.example/api?tenant=1", "no query"),
        ("https://x.example/api#top", "no query"),
        ("/relative/path", "not an absolute URL"),
        ("file:///etc/passwd", "unsupported scheme"),
    ] {
        let e = BaseUrl::parse(text).unwrap_err();
        assert!(e.to_string().contains(error), "{text}: {e}");
    }
    let base = BaseUrl::parse("http://127.0.0.1:9/api").unwrap();
    assert_eq!(base.as_str(), "http://127.0.0.1:9/api/");
    assert_eq!(
        base.segments(&["a b", "c"]).as_str(),
        "http://127.0.0.1:9/api/a%20b/c"
    );
}

#[test]
fn joins_stay_below_the_base() {
    let base = BaseUrl::parse("https://x.example/api").unwrap();
    assert_eq!(
        base.join("/work_orders/").unwrap().as_str(),
        "https://x.example/api/work_orders/"
    );
    for bad in ["https://evil.example/x", "../admin", "./../../x"] {
        assert!(base.join(bad).is_none(), "{bad}");
    }
    assert!(!base.contains(&"https://u@x.example/api/x".parse().unwrap()));
    // A leading `/` counts as relative, so `//host/x` stays below the base too.
    let joined = base.join("//evil.example/x").unwrap();
    assert!(base.contains(&joined), "{joined}");
}
