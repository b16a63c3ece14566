//! `DirectoryMedia`: what it reads, and every reference it refuses.

use std::fs;

use super::*;

/// A fresh folder of its own per test, removed when the test ends.
struct Folder(PathBuf);

impl Folder {
    fn new(name: &str) -> Folder {
        let dir = std::env::temp_dir().join(format!(
            "hubflow-directory-media-{name}-{}",
            std::process::id()
        ));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("reports")).unwrap();
        Folder(dir)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn fetch(media: &DirectoryMedia, reference: &str) -> Result<MediaFile, MediaError> {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(media.fetch(reference))
}

#[test]
fn reads_a_file_with_its_name_and_type() {
    let folder = Folder::new("reads");
    fs::write(folder.0.join("reports/OT-1021.PDF"), b"%PDF-1.4 report").unwrap();
    let file = fetch(&DirectoryMedia::new(&folder.0), "reports/OT-1021.PDF").unwrap();
    assert_eq!(file.filename, "OT-1021.PDF");
    assert_eq!(file.mime_type, "application/pdf");
    assert_eq!(&file.data[..], b"%PDF-1.4 report");
}

#[test]
fn an_unknown_extension_is_octet_stream_for_the_checks_to_refuse() {
    let folder = Folder::new("octet");
    fs::write(folder.0.join("reports/dump.xyz"), b"bytes").unwrap();
    let file = fetch(&DirectoryMedia::new(&folder.0), "reports/dump.xyz").unwrap();
    assert_eq!(file.mime_type, "application/octet-stream");
    assert!(matches!(
        check_media(MediaType::Document, &file.mime_type, file.size(), false),
        Err(MediaError::UnsupportedType { .. })
    ));
}

#[test]
fn references_that_leave_the_folder_or_name_no_file_are_not_found() {
    let folder = Folder::new("refused");
    fs::write(folder.0.join("reports/OT-1.pdf"), b"%PDF").unwrap();
    let outside = folder.0.with_extension("secret.pdf");
    fs::write(&outside, b"not yours").unwrap();
    let media = DirectoryMedia::new(folder.0.join("reports"));
    let absolute = outside.to_string_lossy().into_owned();
    for reference in [
        "",
        "../OT-1.pdf",
        "./OT-1.pdf",
        "a/../OT-1.pdf",
        absolute.as_str(),
        "missing.pdf",
    ] {
        match fetch(&media, reference) {
            Err(MediaError::NotFound { reference: named }) => assert_eq!(named, reference),
            other => panic!("{reference:?}: {other:?}"),
        }
    }
    // A folder is not a file.
    let media = DirectoryMedia::new(&folder.0);
    assert!(matches!(
        fetch(&media, "reports"),
        Err(MediaError::NotFound { .. })
    ));
    fs::remove_file(outside).unwrap();
}

#[cfg(unix)]
#[test]
fn a_symbolic_link_out_of_the_folder_is_not_followed() {
    let folder = Folder::new("symlink");
    let outside = folder.0.with_extension("outside.pdf");
    fs::write(&outside, b"not yours").unwrap();
    std::os::unix::fs::symlink(&outside, folder.0.join("reports/link.pdf")).unwrap();
    fs::write(folder.0.join("inside.pdf"), b"%PDF").unwrap();
    std::os::unix::fs::symlink(folder.0.join("inside.pdf"), folder.0.join("reports/ok.pdf"))
        .unwrap();
    let media = DirectoryMedia::new(&folder.0);
    assert!(matches!(
        fetch(&media, "reports/link.pdf"),
        Err(MediaError::NotFound { .. })
    ));
    // A link that stays inside is a file like any other.
    assert_eq!(&fetch(&media, "reports/ok.pdf").unwrap().data[..], b"%PDF");
    fs::remove_file(outside).unwrap();
}

#[test]
fn a_file_larger_than_any_media_type_is_refused_before_it_is_read() {
    let folder = Folder::new("large");
    let file = fs::File::create(folder.0.join("reports/huge.pdf")).unwrap();
    // Sparse: no disk is used for the hole.
    file.set_len(101_000_000).unwrap();
    match fetch(&DirectoryMedia::new(&folder.0), "reports/huge.pdf") {
        Err(MediaError::TooLarge { size, limit, .. }) => {
            assert_eq!(size, 101_000_000);
            assert_eq!(limit, 100_000_000);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_missing_folder_is_unavailable_not_a_missing_file() {
    let folder = Folder::new("gone");
    let media = DirectoryMedia::new(folder.0.join("share-offline"));
    assert!(matches!(
        fetch(&media, "reports/OT-1.pdf"),
        Err(MediaError::Unavailable { .. })
    ));
}

#[test]
fn only_a_body_with_an_upload_key_may_upload() {
    let pattern = format!("\"{UPLOAD_KEY}\":");
    assert_eq!(super::UPLOAD_PATTERN, pattern.as_bytes());
    let with_file = serde_json::to_vec(&json!({
        "type": "document", "document": {UPLOAD_KEY: {"file": "a.pdf"}}
    }))
    .unwrap();
    assert!(super::may_upload(&with_file));
    // The word in a text, even quoted, is escaped: no upload.
    let text = serde_json::to_vec(&json!({
        "type": "text", "text": {"body": "see \"upload\": done"}
    }))
    .unwrap();
    assert!(!super::may_upload(&text));
    assert!(!super::may_upload(b""));
}
