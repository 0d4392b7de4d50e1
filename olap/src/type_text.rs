//! ClickHouse type names as the server spells them, read into a name and arguments.

/// A type as the server spells it, split into its name and top-level arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TypeText<'a> {
    pub name: &'a str,
    pub args: Vec<&'a str>,
}

impl<'a> TypeText<'a> {
    /// `Array(Nullable(String))` → `Array` with `[Nullable(String)]`. Arguments are split
    /// on top-level commas; quoted strings and backquoted names are kept whole.
    pub fn parse(text: &'a str) -> Self {
        let text = text.trim();
        let Some(open) = text.find('(') else {
            return Self {
                name: text,
                args: vec![],
            };
        };
        let inner = text[open + 1..]
            .strip_suffix(')')
            .unwrap_or(&text[open + 1..]);
        Self {
            name: text[..open].trim(),
            args: split_top_level(inner, ','),
        }
    }

    /// The argument at `index` as a type; a named tuple element (`name Type`) gives its type.
    pub fn arg_type(&self, index: usize) -> Option<TypeText<'a>> {
        let arg = self.args.get(index)?;
        let parts = split_top_level(arg, ' ');
        Some(TypeText::parse(parts.last().copied().unwrap_or(arg)))
    }
}

/// Tracks quoted strings and backquoted names while a type is read character by character.
#[derive(Default)]
pub struct Quotes {
    open: Option<char>,
    escaped: bool,
}

impl Quotes {
    /// Whether `c`, the next character, is part of a quoted run (its quotes included).
    pub fn quoted(&mut self, c: char) -> bool {
        match self.open {
            Some(q) => {
                if self.escaped {
                    self.escaped = false;
                } else if c == '\\' {
                    self.escaped = true;
                } else if c == q {
                    self.open = None;
                }
                true
            }
            None if matches!(c, '\'' | '`' | '"') => {
                self.open = Some(c);
                true
            }
            None => false,
        }
    }
}

/// `text` split at each `separator` outside parentheses, quotes and backquotes, each part
/// trimmed, empty parts dropped.
pub fn split_top_level(text: &str, separator: char) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    let mut quotes = Quotes::default();
    for (index, c) in text.char_indices() {
        if quotes.quoted(c) {
            continue;
        }
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            c if c == separator && depth == 0 => {
                parts.push(text[start..index].trim());
                start = index + c.len_utf8();
            }
            _ => {}
        }
    }
    parts.push(text[start..].trim());
    parts.retain(|p| !p.is_empty());
    parts
}
