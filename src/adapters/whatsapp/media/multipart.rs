//! A `multipart/form-data` body built as bytes, so an upload is an ordinary
//! [`HttpRequest`](crate::http::HttpRequest) value like every other request.

use sha2::{Digest, Sha256};

/// A form body and its `Content-Type` (which names the boundary).
pub(crate) struct Form {
    pub content_type: String,
    pub body: Vec<u8>,
}

/// The file part of a form.
pub(crate) struct FilePart<'a> {
    pub field: &'a str,
    pub filename: &'a str,
    pub mime: &'a str,
    pub data: &'a [u8],
}

/// Builds `fields` (name, text value) followed by one file part.
///
/// The boundary is derived from a hash of the content, so the same upload always gives the
/// same bytes (a dry run and the real send agree, tests can pin them). A boundary must not
/// occur in any part; for a hash-derived one that is astronomically unlikely, but it is
/// checked anyway and a counter changes the boundary until it does not occur.
pub(crate) fn form(fields: &[(&str, &str)], file: &FilePart<'_>) -> Form {
    let digest = Sha256::new()
        .chain_update(file.data)
        .chain_update(file.filename.as_bytes())
        .finalize();
    let stem = format!("hubflow-{}", hex::encode(&digest[..12]));
    let mut boundary = stem.clone();
    let mut counter = 0u32;
    while occurs(&boundary, fields, file) {
        counter += 1;
        boundary = format!("{stem}-{counter}");
    }

    let mut body = Vec::with_capacity(file.data.len() + 512);
    for (name, value) in fields {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        body.extend_from_slice(
            format!(
                "Content-Disposition: form-data; name=\"{}\"\r\n\r\n",
                quoted(name)
            )
            .as_bytes(),
        );
        body.extend_from_slice(value.as_bytes());
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
    body.extend_from_slice(
        format!(
            "Content-Disposition: form-data; name=\"{}\"; filename=\"{}\"\r\nContent-Type: {}\r\n\r\n",
            quoted(file.field),
            quoted(file.filename),
            header_safe(file.mime),
        )
        .as_bytes(),
    );
    body.extend_from_slice(file.data);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    Form {
        content_type: format!("multipart/form-data; boundary={boundary}"),
        body,
    }
}

/// Whether `--boundary` occurs in any part's content.
fn occurs(boundary: &str, fields: &[(&str, &str)], file: &FilePart<'_>) -> bool {
    let delimiter = format!("--{boundary}");
    let needle = delimiter.as_bytes();
    let contains = |haystack: &[u8]| haystack.windows(needle.len()).any(|w| w == needle);
    contains(file.data)
        || contains(file.filename.as_bytes())
        || fields
            .iter()
            .any(|(name, value)| contains(name.as_bytes()) || contains(value.as_bytes()))
}

/// A name or file name inside a quoted header parameter: `"`, CR and LF percent-encoded as
/// the HTML form-encoding algorithm does, so a file name cannot end the header early.
fn quoted(text: &str) -> String {
    text.replace('"', "%22")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// A header value with line breaks removed (the MIME type is checked against WhatsApp's
/// list before a form is built, so this only guards the form's own integrity).
fn header_safe(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).collect()
}

#[cfg(test)]
mod tests;
