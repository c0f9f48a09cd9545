//! Every parser on arbitrary bytes: an error or a run, never a panic.

use super::*;
use proptest::prelude::*;

fn all_parsers(bytes: &[u8]) {
    let opts = LoadOptions::default();
    let p = Path::new("fuzz");
    let _ = table::parse(bytes, p, &opts);
    let _ = jsonl::parse_lines(bytes, p, &opts);
    let _ = jsonl::parse_document(bytes, p, &opts);
    let _ = jsonl::parse_meta(bytes, p);
    let _ = tensorboard::parse_file(bytes, p, &opts);
    let _ = text::parse(bytes, p, &opts);
    for name in [
        "x.csv",
        "x.jsonl",
        "x.json",
        "events.out.tfevents.x",
        "x.log",
    ] {
        let _ = load_bytes(bytes, Path::new(name), &opts);
    }
}

/// Valid framing around arbitrary payloads reaches the protobuf decoder.
fn framed(payloads: &[Vec<u8>]) -> Vec<u8> {
    let mut out = Vec::new();
    for p in payloads {
        tfrecord::write_record(&mut out, p);
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        all_parsers(&bytes);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "[ -~\\n\\t\\r]{0,400}") {
        all_parsers(text.as_bytes());
    }

    #[test]
    fn log_like_text_never_panics(
        lines in proptest::collection::vec(
            "(step|iter|Epoch|loss|val_loss|lr|norm|s|trl|\\{|\\}|\"|:|=|/|,| |\\||\\[|\\]|[0-9]|\\.|e-|nan|inf){0,24}",
            0..20,
        )
    ) {
        all_parsers(lines.join("\n").as_bytes());
    }

    #[test]
    fn framed_garbage_never_panics(
        payloads in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..8)
    ) {
        let bytes = framed(&payloads);
        let _ = tensorboard::parse_file(&bytes, Path::new("fuzz"), &LoadOptions::default());
    }

    #[test]
    fn text_pattern_never_panics(text in "[ -~\\n]{0,200}") {
        let opts = LoadOptions {
            pattern: Some(r"(?P<step>\S+) (?P<loss>\S+)".into()),
            ..LoadOptions::default()
        };
        let _ = text::parse(text.as_bytes(), Path::new("fuzz"), &opts);
    }
}

#[test]
fn references_never_panic_on_odd_input() {
    let _ = crate::references::from_tokens(&[u32::MAX, 0, u32::MAX], 0);
    let _ = crate::references::from_text("\u{0}\u{10FFFF}");
}
