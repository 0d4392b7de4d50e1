//! Request bodies to records: one JSON object, a JSON array of objects, or
//! newline-delimited JSON (NDJSON), read one record at a time so a large body never costs
//! more than itself plus the record being read.
//!
//! Records are parsed strictly: an object naming a field twice is refused (JSON parsers
//! disagree on which value wins), and an escape that is half of a UTF-16 surrogate pair is
//! called that rather than a bad hex escape.

use std::fmt;

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// A record whose text is not acceptable JSON; the message says where and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not valid JSON: {0}")]
pub struct InvalidJson(String);

/// A body that yields no records at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the request body is empty; send a JSON object, a JSON array or NDJSON")]
    Empty,
    #[error("the request body is not valid JSON: {0}")]
    Malformed(String),
}

/// The records of a body, in order: each one's text as received (trimmed), to be checked
/// against a model or parsed with [`parse_record`].
pub struct Records<'a> {
    rest: &'a [u8],
    shape: Shape,
}

#[derive(Clone, Copy)]
enum Shape {
    /// A JSON array (already checked to be well-formed): its elements.
    Array,
    /// Whole JSON values one after another (one object, or NDJSON of well-formed lines).
    Values,
    /// Lines, each a record on its own; a malformed line is one bad record.
    Lines,
}

/// Splits a body into records. A malformed JSON array fails the whole body (nothing of it
/// is a record); in NDJSON each line stands alone, so a malformed line is one bad record.
pub fn parse_body(body: &[u8]) -> Result<Records<'_>, BodyError> {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        return Err(BodyError::Empty);
    }
    // Syntax checks read the body without building anything.
    let shape = if trimmed[0] == b'[' {
        serde_json::from_slice::<IgnoredAny>(trimmed)
            .map_err(|e| BodyError::Malformed(describe_error(trimmed, &e)))?;
        Shape::Array
    } else if serde_json::Deserializer::from_slice(trimmed)
        .into_iter::<IgnoredAny>()
        .all(|value| value.is_ok())
    {
        Shape::Values
    } else {
        Shape::Lines
    };
    let rest = match shape {
        // Inside the brackets.
        Shape::Array => &trimmed[1..trimmed.len() - 1],
        Shape::Values | Shape::Lines => trimmed,
    };
    Ok(Records { rest, shape })
}

impl<'a> Iterator for Records<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        match self.shape {
            Shape::Array => next_element(&mut self.rest),
            Shape::Values => next_value(&mut self.rest),
            Shape::Lines => next_line(&mut self.rest),
        }
    }
}

/// The next element of a well-formed array's inside, skipping the comma after it.
fn next_element<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let text = rest.trim_ascii_start();
    if text.is_empty() {
        return None;
    }
    let (mut depth, mut strings) = (0usize, Strings::default());
    let mut end = text.len();
    for (i, &byte) in text.iter().enumerate() {
        if strings.holds(byte) {
            continue;
        }
        match byte {
            b'{' | b'[' => depth += 1,
            b'}' | b']' => depth = depth.saturating_sub(1),
            b',' if depth == 0 => {
                end = i;
                break;
            }
            _ => {}
        }
    }
    *rest = text.get(end + 1..).unwrap_or(&[]);
    Some(text[..end].trim_ascii())
}

/// The next whole JSON value of a body of well-formed values.
fn next_value<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    let text = rest.trim_ascii_start();
    if text.is_empty() {
        return None;
    }
    let mut values = serde_json::Deserializer::from_slice(text).into_iter::<IgnoredAny>();
    values.next()?.ok()?;
    let end = values.byte_offset();
    *rest = &text[end..];
    Some(&text[..end])
}

/// The next non-blank line.
fn next_line<'a>(rest: &mut &'a [u8]) -> Option<&'a [u8]> {
    loop {
        if rest.is_empty() {
            return None;
        }
        let end = rest.iter().position(|b| *b == b'\n').unwrap_or(rest.len());
        let line = rest[..end].trim_ascii();
        *rest = rest.get(end + 1..).unwrap_or(&[]);
        if !line.is_empty() {
            return Some(line);
        }
    }
}

/// One record's JSON, strictly: duplicate fields are refused.
pub fn parse_record(raw: &[u8]) -> Result<Value, InvalidJson> {
    let mut deserializer = serde_json::Deserializer::from_slice(raw);
    StrictValue
        .deserialize(&mut deserializer)
        .and_then(|value| deserializer.end().map(|()| value))
        .map_err(|e| InvalidJson(describe_error(raw, &e)))
}

/// A record's text on one line with no whitespace between tokens (strings are copied as
/// they are), as records are stored: one per line.
pub fn compact(raw: &[u8]) -> Vec<u8> {
    let mut strings = Strings::default();
    raw.iter()
        .copied()
        .filter(|&byte| strings.holds(byte) || !byte.is_ascii_whitespace())
        .collect()
}

/// Follows JSON text byte by byte to tell which bytes belong to strings.
#[derive(Default)]
struct Strings {
    inside: bool,
    escaped: bool,
}

impl Strings {
    /// Whether `byte`, the next one of the text, is part of a string (quotes included).
    fn holds(&mut self, byte: u8) -> bool {
        if self.inside {
            match byte {
                _ if self.escaped => self.escaped = false,
                b'\\' => self.escaped = true,
                b'"' => self.inside = false,
                _ => {}
            }
            true
        } else {
            self.inside = byte == b'"';
            self.inside
        }
    }
}

/// serde_json's message, except for the one it words misleadingly: a `\uD800`–`\uDFFF`
/// escape without its other half.
fn describe_error(text: &[u8], error: &serde_json::Error) -> String {
    let message = error.to_string();
    if message.contains("hex escape") || message.contains("surrogate") {
        if let Some(escape) = lone_surrogate(text) {
            return format!(
                "`{escape}` at line {} column {} is half of a UTF-16 surrogate pair, not a \
                 character: escape characters above U+FFFF as a pair (\\uD83D\\uDE00) or \
                 send them as UTF-8",
                error.line(),
                error.column()
            );
        }
    }
    message
}

/// The first `\uXXXX` escape in `text` that is a surrogate without its partner.
fn lone_surrogate(text: &[u8]) -> Option<String> {
    let escape_at = |i: usize| -> Option<u16> {
        let digits = text.get(i + 2..i + 6)?;
        (text.get(i..i + 2)? == b"\\u")
            .then(|| u16::from_str_radix(std::str::from_utf8(digits).ok()?, 16).ok())
            .flatten()
    };
    let mut i = 0;
    while i < text.len() {
        if text[i] == b'\\' && text.get(i + 1) == Some(&b'\\') {
            i += 2;
            continue;
        }
        if let Some(unit) = escape_at(i) {
            let paired = |next: Option<u16>| next.is_some_and(|n| (0xDC00..=0xDFFF).contains(&n));
            match unit {
                0xD800..=0xDBFF if paired(escape_at(i + 6)) => i += 12,
                0xD800..=0xDFFF => return Some(format!("\\u{unit:04X}")),
                _ => i += 6,
            }
            continue;
        }
        i += 1;
    }
    None
}

/// A JSON value whose objects have no field twice.
pub(crate) struct StrictValue;

impl<'de> DeserializeSeed<'de> for StrictValue {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictValue {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(StrictValue)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut object = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if object.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "field `{key}` appears twice in one object"
                )));
            }
            let value = map.next_value_seed(StrictValue)?;
            object.insert(key, value);
        }
        Ok(Value::Object(object))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values(body: &str) -> Vec<Result<Value, String>> {
        parse_body(body.as_bytes())
            .expect("records")
            .map(|raw| parse_record(raw).map_err(|e| e.to_string()))
            .collect()
    }

    #[test]
    fn reads_objects_arrays_and_ndjson() {
        assert_eq!(values(r#"{"a": 1}"#), vec![Ok(json!({"a": 1}))]);
        assert_eq!(values("{\n  \"a\": 1\n}\n"), vec![Ok(json!({"a": 1}))]);
        assert_eq!(
            values(r#"[{"a": 1}, {"a": [2, {"b": "],}"}]}, "x"]"#),
            vec![
                Ok(json!({"a": 1})),
                Ok(json!({"a": [2, {"b": "],}"}]})),
                Ok(json!("x"))
            ]
        );
        assert_eq!(values("[]"), vec![]);
        assert_eq!(values(r#"[ "a\"]" ]"#), vec![Ok(json!("a\"]"))]);
        assert_eq!(
            values("{\"a\": 1}\n\n{\"a\": 2}\r\n"),
            vec![Ok(json!({"a": 1})), Ok(json!({"a": 2}))]
        );
        assert_eq!(
            values("{\"a\": 1}{\"a\": 2}"),
            vec![Ok(json!({"a": 1})), Ok(json!({"a": 2}))]
        );
    }

    #[test]
    fn keeps_each_records_text() {
        let raw: Vec<&[u8]> = parse_body(b"[ {\"a\": 1} ,\n {\"b\": 2} ]")
            .expect("records")
            .collect();
        assert_eq!(raw, [&b"{\"a\": 1}"[..], &b"{\"b\": 2}"[..]]);
    }

    #[test]
    fn a_malformed_ndjson_line_is_one_bad_record() {
        let raw: Vec<&[u8]> = parse_body(b"{\"a\": 1}\n{\"a\": \n{\"a\": 3}")
            .expect("records")
            .collect();
        assert_eq!(raw.len(), 3);
        assert!(parse_record(raw[0]).is_ok() && parse_record(raw[2]).is_ok());
        assert_eq!(raw[1], b"{\"a\":");
        assert!(parse_record(raw[1]).is_err_and(|e| e.to_string().contains("not valid JSON")));
    }

    #[test]
    fn rejects_empty_and_malformed_arrays() {
        assert!(matches!(parse_body(b"  \n"), Err(BodyError::Empty)));
        assert!(matches!(
            parse_body(b"[{\"a\": 1},"),
            Err(BodyError::Malformed(_))
        ));
    }

    #[test]
    fn refuses_a_field_named_twice_at_any_depth() {
        let found = values(r#"{"id": "a", "id": "b"}"#);
        assert!(
            matches!(&found[..], [Err(e)] if e.contains("field `id` appears twice")),
            "{found:?}"
        );
        let found = values(r#"{"x": {"k": 1, "k": 2}}"#);
        assert!(
            matches!(&found[..], [Err(e)] if e.contains("field `k` appears twice")),
            "{found:?}"
        );
    }

    #[test]
    fn names_a_lone_surrogate() {
        for text in [
            r#"{"id": "a\ud800"}"#,
            r#"{"id": "a\ud800x"}"#,
            r#"{"id": "\uDC00"}"#,
        ] {
            let found = values(text);
            assert!(
                matches!(&found[..], [Err(e)] if e.contains("half of a UTF-16 surrogate pair")),
                "{text}: {found:?}"
            );
        }
        assert_eq!(
            values(r#"{"id": "\ud83d\ude00 \\ud800"}"#),
            vec![Ok(json!({"id": "😀 \\ud800"}))]
        );
    }

    #[test]
    fn compacts_a_record_onto_one_line_keeping_its_strings() {
        let raw = b"{ \"a\" : [1, 2.50],\r\n  \"b\": \"x y\\\" \\\\\" ,\"c\":{ } }";
        let compacted = compact(raw);
        assert_eq!(
            String::from_utf8_lossy(&compacted),
            r#"{"a":[1,2.50],"b":"x y\" \\","c":{}}"#
        );
        assert_eq!(parse_record(&compacted), parse_record(raw));
    }
}
