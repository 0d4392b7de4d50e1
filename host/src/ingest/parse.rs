//! Request bodies to records: one JSON object, a JSON array of objects, or
//! newline-delimited JSON (NDJSON).

use serde_json::Value;

/// One record of a request: its JSON, or why its text is not JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// The record's text as received (for dead letters).
    pub raw: String,
    pub value: Result<Value, String>,
}

/// A body that yields no records at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("the request body is empty; send a JSON object, a JSON array or NDJSON")]
    Empty,
    #[error("the request body is not valid JSON: {0}")]
    Malformed(String),
}

fn parsed(values: Vec<Value>) -> Vec<Parsed> {
    values
        .into_iter()
        .map(|value| Parsed {
            raw: value.to_string(),
            value: Ok(value),
        })
        .collect()
}

/// Splits a body into records. In NDJSON each line stands alone, so a malformed line is
/// one bad record; a malformed JSON array fails the whole body.
pub fn parse_body(body: &[u8]) -> Result<Vec<Parsed>, BodyError> {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        return Err(BodyError::Empty);
    }
    if trimmed[0] == b'[' {
        let values: Vec<Value> =
            serde_json::from_slice(trimmed).map_err(|e| BodyError::Malformed(e.to_string()))?;
        return Ok(parsed(values));
    }
    // One object (possibly pretty-printed) or well-formed NDJSON.
    let whole: Result<Vec<Value>, _> = serde_json::Deserializer::from_slice(trimmed)
        .into_iter::<Value>()
        .collect();
    if let Ok(values) = whole {
        return Ok(parsed(values));
    }
    Ok(trimmed
        .split(|b| *b == b'\n')
        .map(<[u8]>::trim_ascii)
        .filter(|line| !line.is_empty())
        .map(|line| Parsed {
            raw: String::from_utf8_lossy(line).into_owned(),
            value: serde_json::from_slice(line).map_err(|e| format!("not valid JSON: {e}")),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values(body: &str) -> Vec<Result<Value, String>> {
        parse_body(body.as_bytes())
            .expect("records")
            .into_iter()
            .map(|p| p.value)
            .collect()
    }

    #[test]
    fn reads_objects_arrays_and_ndjson() {
        assert_eq!(values(r#"{"a": 1}"#), vec![Ok(json!({"a": 1}))]);
        assert_eq!(values("{\n  \"a\": 1\n}\n"), vec![Ok(json!({"a": 1}))]);
        assert_eq!(
            values(r#"[{"a": 1}, {"a": 2}]"#),
            vec![Ok(json!({"a": 1})), Ok(json!({"a": 2}))]
        );
        assert_eq!(
            values("{\"a\": 1}\n\n{\"a\": 2}\r\n"),
            vec![Ok(json!({"a": 1})), Ok(json!({"a": 2}))]
        );
    }

    #[test]
    fn a_malformed_ndjson_line_is_one_bad_record() {
        let parsed = parse_body(b"{\"a\": 1}\n{\"a\": \n{\"a\": 3}").expect("records");
        assert_eq!(parsed.len(), 3);
        assert!(parsed[0].value.is_ok() && parsed[2].value.is_ok());
        assert_eq!(parsed[1].raw, "{\"a\":");
        assert!(parsed[1]
            .value
            .as_ref()
            .is_err_and(|e| e.contains("not valid JSON")));
    }

    #[test]
    fn rejects_empty_and_malformed_arrays() {
        assert_eq!(parse_body(b"  \n"), Err(BodyError::Empty));
        assert!(matches!(
            parse_body(b"[{\"a\": 1},"),
            Err(BodyError::Malformed(_))
        ));
    }
}
