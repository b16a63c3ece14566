//! Rejected payloads: every error names its field and says what is wrong.

use super::*;

#[test]
fn file_payload_errors_name_their_field() {
    use MessageKind::{Audio, Document, Image, Template, Video};
    let cases = [
        (
            Document,
            json!({"to": "5511999991234", "file": "a.pdf", "link": "https://x.example/a.pdf"}),
            "file",
            "not several",
        ),
        (
            Document,
            json!({"to": "5511999991234", "id": "1", "mime_type": "application/pdf"}),
            "mime_type",
            "goes with `file`",
        ),
        (
            Image,
            json!({"to": "5511999991234", "file": "a.gif"}),
            "file",
            "image/jpeg, image/png",
        ),
        (
            Image,
            json!({"to": "5511999991234", "file": "a", "mime_type": "image/gif"}),
            "mime_type",
            "does not take `image/gif`",
        ),
        (
            Video,
            json!({"to": "5511999991234", "file": "a.mov", "mime_type": "video/quicktime"}),
            "mime_type",
            "video/mp4",
        ),
        (
            Audio,
            json!({"to": "5511999991234", "file": "a.mp3", "caption": "x"}),
            "caption",
            "unknown field",
        ),
        (
            Document,
            json!({"to": "5511999991234", "file": "a\nb.pdf"}),
            "file",
            "one line",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR",
                          "header": {"type": "document", "file": "report.docx"}}),
            "header.file",
            "only PDF",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR",
                          "header": {"type": "image", "file": "a.png", "filename": "a.png"}}),
            "header.filename",
            "unknown field",
        ),
    ];
    for (kind, payload, field, needle) in cases {
        let (got, message) = rejected(kind, payload.clone());
        assert_eq!(got, field, "{payload}: {message}");
        assert!(message.contains(needle), "{payload}: {message}");
    }
}

#[test]
fn every_validation_error_names_its_field() {
    use MessageKind::{Document, Interactive, Template, Text};
    let long = "x".repeat(4097);
    let cases: Vec<(MessageKind, Value, &str, &str)> = vec![
        // Recipient.
        (Text, json!({"text": "hi"}), "to", "missing"),
        (Text, json!({"to": " ", "text": "hi"}), "to", "blank"),
        (Text, json!({"to": null, "text": "hi"}), "to", "missing"),
        (
            Text,
            json!({"to": true, "text": "hi"}),
            "to",
            "expected a string",
        ),
        (
            Text,
            json!({"to": "(11) 999-12", "text": "hi"}),
            "to",
            "8 to 15",
        ),
        (
            Text,
            json!({"to": "call me", "text": "hi"}),
            "to",
            "not a phone number",
        ),
        // Unknown fields, with a hint.
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "langauge": "pt_BR"}),
            "langauge",
            "did you mean `language`?",
        ),
        (
            Text,
            json!({"to": "5511999991234", "body": "hi"}),
            "body",
            "allowed: to, text, preview_url, reply_to, callback_data",
        ),
        // Template.
        (
            Template,
            json!({"to": "5511999991234", "language": "pt_BR"}),
            "template",
            "missing",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "", "language": "pt_BR"}),
            "template",
            "blank",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "wo assignment", "language": "pt_BR"}),
            "template",
            "no spaces",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t"}),
            "language",
            "missing",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt-BR"}),
            "language",
            "`pt_BR`",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "Portuguese"}),
            "language",
            "not a template language code",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_br"}),
            "language",
            "not a template language code",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": [""]}),
            "body.0",
            "empty",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": ["a", "line\nbreak"]}),
            "body.1",
            "new line",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": ["tab\there"]}),
            "body.0",
            "tab",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": ["a     b"]}),
            "body.0",
            "4 consecutive spaces",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": [true]}),
            "body.0",
            "expected a string",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": "Jonas"}),
            "body",
            "expected a list",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": [{"type": "text", "text": "a\nb"}]}),
            "body.0.text",
            "new line",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": [{"type": "currency", "currency": {"fallback_value": "$1"}}]}),
            "body.0",
            "amount_1000",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": [{"type": "currency", "currency": {"fallback_value": "$1", "code": "usd", "amount_1000": 1000}}]}),
            "body.0.currency.code",
            "ISO 4217",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": [{"type": "currency", "currency": {"fallback_value": " ", "code": "USD", "amount_1000": 1000}}]}),
            "body.0.currency.fallback_value",
            "blank",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": [{"type": "date_time", "date_time": {"fallback_value": ""}}]}),
            "body.0.date_time.fallback_value",
            "blank",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": [{"type": "image", "image": {"link": "https://x.example/a.png"}}]}),
            "body.0",
            "text, currency or date_time",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": [{"type": "text", "text": "a", "parameter_name": "n"}, "b"]}),
            "body",
            "mixes named",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": {"Customer Name": "Jonas"}}),
            "body.Customer Name",
            "lowercase",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": {"name": ""}}),
            "body.name",
            "empty",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "body": {"name": ["x"]}}),
            "body.name",
            "takes a string",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "header": "wo.pdf"}),
            "header",
            "expected an object",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "header": {"link": "https://x.example/a.pdf"}}),
            "header.type",
            "missing",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "header": {"type": "audio", "link": "https://x.example/a.mp3"}}),
            "header.type",
            "not a template header type",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "header": {"type": "document"}}),
            "header.link",
            "missing",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "header": {"type": "document", "link": "ftp://x.example/a.pdf"}}),
            "header.link",
            "http(s)",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "header": {"type": "image", "link": "https://x.example/a.png", "filename": "a.png"}}),
            "header.filename",
            "unknown field",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "header": {"type": "document", "link": "https://x.example/a.pdf", "caption": "c"}}),
            "header.caption",
            "unknown field",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "header": {"type": "text", "text": ""}}),
            "header.text",
            "blank",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "buttons": {"sub_type": "url"}}),
            "buttons",
            "expected a list",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "buttons": ["confirm"]}),
            "buttons.0",
            "expected an object",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "buttons": [{"payload": "confirm"}]}),
            "buttons.0.sub_type",
            "missing",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "buttons": [{"sub_type": "call", "payload": "x"}]}),
            "buttons.0.sub_type",
            "quick_reply or url",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "buttons": [{"sub_type": "quick_reply"}]}),
            "buttons.0.payload",
            "missing",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "buttons": [{"sub_type": "quick_reply", "text": "x"}]}),
            "buttons.0.text",
            "takes `payload`",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "buttons": [{"sub_type": "url", "text": "a b"}]}),
            "buttons.0.text",
            "no spaces",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "buttons": [{"sub_type": "url", "text": "a", "index": 10}]}),
            "buttons.0.index",
            "0 to 9",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "buttons": [{"sub_type": "url", "text": "a", "index": 1}, {"sub_type": "quick_reply", "payload": "p"}]}),
            "buttons.1.index",
            "used by another",
        ),
        (
            Template,
            json!({"to": "5511999991234", "template": "t", "language": "pt_BR", "buttons": [{"sub_type": "url", "txt": "a"}]}),
            "buttons.0.txt",
            "did you mean `text`?",
        ),
        // Text.
        (Text, json!({"to": "5511999991234"}), "text", "missing"),
        (
            Text,
            json!({"to": "5511999991234", "text": ""}),
            "text",
            "blank",
        ),
        (
            Text,
            json!({"to": "5511999991234", "text": long}),
            "text",
            "4097 characters",
        ),
        (
            Text,
            json!({"to": "5511999991234", "text": "hi", "preview_url": "yes"}),
            "preview_url",
            "true or false",
        ),
        (
            Text,
            json!({"to": "5511999991234", "text": "hi", "preview_url": 1}),
            "preview_url",
            "true or false",
        ),
        (
            Text,
            json!({"to": "5511999991234", "text": "hi", "reply_to": "wamid A"}),
            "reply_to",
            "no spaces",
        ),
        (
            Text,
            json!({"to": "5511999991234", "text": "hi", "callback_data": "x".repeat(513)}),
            "callback_data",
            "513 characters",
        ),
        (
            Text,
            json!({"to": "5511999991234", "text": "hi", "callback_data": 5}),
            "callback_data",
            "expected a string",
        ),
        // Document.
        (Document, json!({"to": "5511999991234"}), "link", "missing"),
        (
            Document,
            json!({"to": "5511999991234", "link": "https://x.example/a.pdf", "id": "1"}),
            "link",
            "not both",
        ),
        (
            Document,
            json!({"to": "5511999991234", "link": "erp.example.com/a.pdf"}),
            "link",
            "http(s)",
        ),
        (
            Document,
            json!({"to": "5511999991234", "link": "javascript:alert(1)"}),
            "link",
            "http(s)",
        ),
        (
            Document,
            json!({"to": "5511999991234", "id": "12 34"}),
            "id",
            "no spaces",
        ),
        (
            Document,
            json!({"to": "5511999991234", "id": "1", "filename": 3}),
            "filename",
            "expected a string",
        ),
        // Interactive.
        (
            Interactive,
            json!({"to": "5511999991234", "buttons": [{"id": "a", "title": "A"}]}),
            "body",
            "missing",
        ),
        (
            Interactive,
            json!({"to": "5511999991234", "body": "x".repeat(1025), "buttons": [{"id": "a", "title": "A"}]}),
            "body",
            "1025 characters",
        ),
        (
            Interactive,
            json!({"to": "5511999991234", "body": "b"}),
            "buttons",
            "missing",
        ),
        (
            Interactive,
            json!({"to": "5511999991234", "body": "b", "buttons": []}),
            "buttons",
            "1 to 3",
        ),
        (
            Interactive,
            json!({"to": "5511999991234", "body": "b", "buttons": [{"id": "a", "title": "A"}, {"id": "b", "title": "B"}, {"id": "c", "title": "C"}, {"id": "d", "title": "D"}]}),
            "buttons",
            "1 to 3",
        ),
        (
            Interactive,
            json!({"to": "5511999991234", "body": "b", "buttons": "a"}),
            "buttons",
            "expected a list",
        ),
        (
            Interactive,
            json!({"to": "5511999991234", "body": "b", "buttons": ["a"]}),
            "buttons.0",
            "expected an object",
        ),
        (
            Interactive,
            json!({"to": "5511999991234", "body": "b", "buttons": [{"id": "a", "title": "A"}, {"id": "a", "title": "B"}]}),
            "buttons.1.id",
            "unique",
        ),
        (
            Interactive,
            json!({"to": "5511999991234", "body": "b", "buttons": [{"id": "a", "title": ""}]}),
            "buttons.0.title",
            "blank",
        ),
        (
            Interactive,
            json!({"to": "5511999991234", "body": "b", "buttons": [{"id": "a", "title": "Confirm the appointment"}]}),
            "buttons.0.title",
            "at most 20",
        ),
        (
            Interactive,
            json!({"to": "5511999991234", "body": "b", "buttons": [{"title": "A"}]}),
            "buttons.0.id",
            "missing",
        ),
        (
            Interactive,
            json!({"to": "5511999991234", "body": "b", "buttons": [{"id": "a", "title": "A", "payload": "x"}]}),
            "buttons.0.payload",
            "unknown field",
        ),
        (
            Interactive,
            json!({"to": "5511999991234", "body": "b", "buttons": [{"id": "a", "title": "A"}], "header": "h".repeat(61)}),
            "header",
            "at most 60",
        ),
        (
            Interactive,
            json!({"to": "5511999991234", "body": "b", "buttons": [{"id": "a", "title": "A"}], "footer": "f".repeat(61)}),
            "footer",
            "at most 60",
        ),
    ];
    for (kind, payload, field, message_part) in cases {
        let (got_field, message) = rejected(kind, payload.clone());
        assert_eq!(got_field, field, "{payload}: {message}");
        assert!(
            message.contains(message_part),
            "{payload}: {message:?} lacks {message_part:?}"
        );
    }
}
