//! The one escaper of SQL text: ClickHouse identifiers and string literals, as DDL, type
//! names (enum members) and queries built by the host spell them.

/// A backquoted identifier: `` `na\`me` ``.
pub fn quote_ident(name: &str) -> String {
    let mut quoted = String::with_capacity(name.len() + 2);
    quoted.push('`');
    for c in name.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '`' => quoted.push_str("\\`"),
            _ => quoted.push(c),
        }
    }
    quoted.push('`');
    quoted
}

/// A single-quoted string literal.
pub fn quote_string(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('\'');
    for c in value.chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '\'' => quoted.push_str("\\'"),
            '\n' => quoted.push_str("\\n"),
            '\r' => quoted.push_str("\\r"),
            '\t' => quoted.push_str("\\t"),
            '\0' => quoted.push_str("\\0"),
            _ => quoted.push(c),
        }
    }
    quoted.push('\'');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_identifiers_and_strings() {
        assert_eq!(quote_ident("Order"), "`Order`");
        assert_eq!(quote_ident("we`ird\\"), "`we\\`ird\\\\`");
        assert_eq!(quote_string("it's\n"), "'it\\'s\\n'");
        assert_eq!(quote_string("a\\b\t\0\r"), "'a\\\\b\\t\\0\\r'");
    }
}
