//! The README's quick start is the `quick_start` example, word for word, so the code a
//! user copies first is compiled and run (CI runs the example).

#[test]
fn the_readme_quick_start_is_the_quick_start_example() {
    let readme = include_str!("../README.md");
    let example = include_str!("../examples/quick_start.rs");
    let section = readme
        .split_once("## Quick start\n")
        .map(|(_, rest)| rest)
        .expect("the README has a quick start");
    let code = section
        .split_once("```rust\n")
        .and_then(|(_, rest)| rest.split_once("```\n"))
        .map(|(code, _)| code)
        .expect("the quick start has a rust block");
    // The example's first line says where it comes from; the rest is the README's block.
    let (_, body) = example.split_once('\n').expect("the example has lines");
    assert_eq!(code, body, "README.md and examples/quick_start.rs differ");
}
