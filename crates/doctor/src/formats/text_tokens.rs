//! A text log line's numbers and the names written before them: `iter 100: loss 2.34` gives
//! (`iter`, 100) and (`loss`, 2.34). Dates, thousands separators, bracketed names and names
//! joined by an underscore are handled here, so the reader above sees only named numbers.

use super::super::names::{classify, is_split_name, Role};
use regex::Regex;
use std::sync::OnceLock;

fn number_regex() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(
            r"(?i)([-+]?nan|[-+]?inf(?:inity)?|[-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)(?:[ \t]*/[ \t]*(\d+))?([a-zµ%]*)",
        )
        .expect("valid regex")
    })
}

/// A number on a line with the name written before it.
#[derive(Debug)]
pub(super) struct Token<'a> {
    pub(super) key: &'a str,
    pub(super) value: f64,
    pub(super) total: Option<f64>,
    /// Followed by a unit (`ms`, `M`, `%`): a time or a count, never a loss.
    pub(super) has_unit: bool,
    /// The character right after the number (and its unit), if any; a colon that ends a
    /// counter rather than a clock's hours reads as a space.
    pub(super) next: Option<char>,
    /// A word right after the number that ends its clause (`10.50 loss,` as tinygrad prints
    /// it): a name written after its value, or "".
    pub(super) name_after: &'a str,
}

/// The word after a number when the clause ends right after it (`loss,`, `LR;`, `loss` at
/// the end of the line): the number's name in a log that writes values first.
fn name_after(rest: &str) -> &str {
    let rest = rest.strip_prefix(' ').unwrap_or("");
    let len = rest
        .bytes()
        .take_while(|b| b.is_ascii_alphabetic() || *b == b'_')
        .count();
    let ends_clause = rest[len..]
        .chars()
        .next()
        .is_none_or(|c| matches!(c, ',' | ';' | '|' | ')'));
    if len > 0 && ends_clause {
        &rest[..len]
    } else {
        ""
    }
}

/// The name a number carries: the last few words of the text since the previous number,
/// cut at separators (`,`, `|`, brackets, ` - `) and stripped of `:`/`=`/quotes.
fn key_of(segment: &str) -> &str {
    const TRAILING: &[char] = &[':', '=', '[', '(', '\'', '"', '{'];
    // Python 2's `print('loss:', x)` prints a tuple: `('epoch:', 0, 'loss:', 0.711)`. A quoted
    // name's closing comma belongs to the name, not between two names.
    let s = segment.trim_end();
    let s = match s.strip_suffix(',') {
        Some(rest) if rest.ends_with(['\'', '"']) => rest,
        _ => s,
    };
    let s = s.trim_end_matches(|c: char| c.is_whitespace() || TRAILING.contains(&c));
    let cut = s
        .rfind([',', ';', '|', '(', ')', '[', ']', '{', '}', '\t', '>'])
        .map(|i| i + 1)
        .unwrap_or(0);
    let cut = match s[cut..].rfind(" - ") {
        Some(i) => cut + i + 3,
        None => cut,
    };
    // A bracketed name (`[batch]: 23900, [loss]: 4.99`): the word inside the brackets.
    if cut > 0 && s.ends_with(']') {
        if let Some(open) = s.rfind('[') {
            let inner = &s[open + 1..s.len() - 1];
            if !inner.is_empty() && inner.chars().all(|c| c.is_alphanumeric() || c == '_') {
                return inner;
            }
        }
    }
    let s = s[cut..].trim_start_matches(|c: char| !c.is_alphanumeric() && c != '_');
    // At most the last three words: "the validation loss is" is still about a loss.
    let start = s
        .rmatch_indices(' ')
        .nth(2)
        .map(|(i, _)| i + 1)
        .unwrap_or(0);
    let mut key = &s[start..];
    // A leading word of a name and a number (`gpt2 step 10`, `resnet50 loss 0.4`, `lr1e-3`)
    // is a name the line carries, not part of the number's (`l2 norm` keeps its `l2`).
    let model_name = |w: &str| {
        let letters = w.bytes().take_while(u8::is_ascii_alphabetic).count();
        letters >= 2 && w.as_bytes().get(letters).is_some_and(u8::is_ascii_digit)
    };
    while let Some((first, rest)) = key.split_once(' ') {
        if model_name(first) && !rest.trim().is_empty() {
            key = rest.trim_start();
        } else {
            break;
        }
    }
    key
}

/// The length of thousands groups (`,100` in `iter:  20,100`) right after a counter's first
/// digits, when there are any and nothing numeric follows them.
fn thousands_groups(rest: &str) -> usize {
    let bytes = rest.as_bytes();
    let mut len = 0;
    while bytes.len() >= len + 4
        && bytes[len] == b','
        && bytes[len + 1..len + 4].iter().all(u8::is_ascii_digit)
    {
        len += 4;
    }
    match bytes.get(len) {
        Some(b) if b.is_ascii_digit() || *b == b'.' => 0,
        _ => len,
    }
}

/// The length of a `YYYY/MM/DD` date at the start of `text`, of a `DD/MM/YY` or `MM/DD/YYYY`
/// one (`[13/12/22 10:23:42]`), or of an `MM/DD` before a clock (`[05/03 23:15:56.145]`), if
/// one is there.
fn slash_date_len(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    let digits = |from: usize| {
        b[from.min(b.len())..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count()
    };
    let (first, second) = (digits(0), digits(digits(0) + 1));
    let clock_after = |at: usize| {
        b.get(at) == Some(&b' ') && (1..=2).contains(&digits(at + 1)) && {
            let colon = at + 1 + digits(at + 1);
            b.get(colon) == Some(&b':') && digits(colon + 1) == 2
        }
    };
    if (1..=2).contains(&first) && b.get(first) == Some(&b'/') && (1..=2).contains(&second) {
        let end = first + 1 + second;
        if clock_after(end) {
            return Some(end);
        }
        let year = digits(end + 1);
        if b.get(end) == Some(&b'/') && (year == 2 || year == 4) {
            return Some(end + 1 + year);
        }
    }
    if first != 4 || b.get(4) != Some(&b'/') {
        return None;
    }
    let month = digits(5);
    if !(1..=2).contains(&month) || b.get(5 + month) != Some(&b'/') {
        return None;
    }
    let day = digits(6 + month);
    (1..=2).contains(&day).then_some(6 + month + day)
}

/// A value joined to its name by an underscore (WaveGlow's `step_78540:\tloss_-4.0655`):
/// the name, when it is a step or a loss and no number follows as the value (`loss_1: 0.5`
/// names a loss `loss_1`).
fn underscore_joined_key(line: &str, start: usize, end: usize) -> Option<&str> {
    let before = line[..start].strip_suffix('_')?;
    let word_start = before
        .char_indices()
        .rfind(|(_, c)| !c.is_ascii_alphabetic())
        .map_or(0, |(i, c)| i + c.len_utf8());
    let word = &before[word_start..];
    let named = matches!(
        classify(word),
        Some((Role::Step | Role::TrainLoss | Role::ValLoss, _))
    );
    let rest = line[end..].trim_start_matches(|c: char| c == ':' || c.is_whitespace());
    let value_follows = rest.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '.');
    (named && !word.is_empty() && !value_follows).then_some(word)
}

/// A counter word with its number glued on (`step101 -- 9.59`, `epoch5 loss 2.3`): the word is
/// the number's name. Only a whole word of letters that names a counter, and a whole number.
fn glued_counter<'a>(line: &'a str, start: usize, digits: &str) -> Option<&'a str> {
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let before = &line[..start];
    let word_start = before
        .char_indices()
        .rev()
        .take_while(|(_, c)| c.is_ascii_alphabetic())
        .last()
        .map(|(i, _)| i)?;
    let word = &before[word_start..];
    let whole_word = before[..word_start]
        .chars()
        .next_back()
        .is_none_or(|c| !c.is_alphanumeric() && c != '_');
    let counter = ["step", "iter", "iteration", "epoch", "batch"]
        .iter()
        .any(|w| word.eq_ignore_ascii_case(w));
    (whole_word && counter).then_some(word)
}

pub(super) fn tokens(line: &str) -> Vec<Token<'_>> {
    let mut out = Vec::new();
    let mut prev_end = 0;
    for m in number_regex().captures_iter(line) {
        let whole = m.get(0).expect("group 0");
        let start = whole.start();
        if start < prev_end {
            continue;
        }
        // A date written with slashes (MMEngine: `2024/12/27 11:38:55 - mmengine - INFO`) would
        // read as a counter `2024/12`: it goes whole.
        if let Some(len) = slash_date_len(&line[start..]) {
            prev_end = start + len;
            continue;
        }
        // A digit glued to a word (`gpt2`, `lr1e-3`, `v_0`) is part of a name.
        let glued = line[..start]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.');
        let joined_key = glued.then(|| {
            underscore_joined_key(line, start, whole.end())
                .or_else(|| glued_counter(line, start, &m[1]))
        });
        if glued && joined_key.flatten().is_none() {
            continue;
        }
        let Ok(value) = m[1].parse::<f64>().or_else(|_| {
            let t = m[1].to_ascii_lowercase();
            let t = t.trim_start_matches('+');
            match t {
                "nan" | "-nan" => Ok(f64::NAN),
                "inf" | "infinity" => Ok(f64::INFINITY),
                "-inf" | "-infinity" => Ok(f64::NEG_INFINITY),
                _ => Err(()),
            }
        }) else {
            continue;
        };
        let key = joined_key
            .flatten()
            .unwrap_or_else(|| key_of(&line[prev_end..start]));
        // A number printed with thousands separators (BasicSR: `iter:  20,100`): without this,
        // every line of a thousand steps collapses onto one.
        let mut end = whole.end();
        let mut value = value;
        let digits = &m[1];
        if digits.len() <= 3 && digits.bytes().all(|b| b.is_ascii_digit()) {
            let groups = thousands_groups(&line[end..]);
            // Any value whose groups end the line or a word (OLMo: `train/Perplexity=195,153`,
            // `throughput/total_tokens=1,048,576`); a step's even before a comma.
            let ends_word = line[end + groups..]
                .chars()
                .next()
                .is_none_or(char::is_whitespace);
            if groups > 0 && (ends_word || matches!(classify(key), Some((Role::Step, _)))) {
                let text: String = line[start..end + groups]
                    .chars()
                    .filter(char::is_ascii_digit)
                    .collect();
                value = text.parse().unwrap_or(value);
                end += groups;
            }
        }
        // A split's name glued to a clock (`00:44:04val Loss: 0.0100`) is no unit: the name
        // stays for the next number.
        let unit = &m[3];
        let split_word = is_split_name(unit);
        if split_word {
            end -= unit.len();
        }
        out.push(Token {
            key,
            value,
            total: m.get(2).and_then(|t| t.as_str().parse().ok()),
            name_after: name_after(&line[end..]),
            has_unit: !unit.is_empty() && !split_word,
            next: {
                let mut after = line[end..].chars();
                // A colon followed by a digit is a clock (`12:00:01`); before a space or a
                // word it ends a counter (`5989: loss=0.444`, darknet).
                match (after.next(), after.next()) {
                    (Some(':'), Some(d)) if !d.is_ascii_digit() => Some(' '),
                    (c, _) => c,
                }
            },
        });
        prev_end = end;
    }
    out
}
