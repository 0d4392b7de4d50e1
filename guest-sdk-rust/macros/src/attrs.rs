//! Reading `#[moose(...)]`, `#[serde(...)]` and doc attributes.

use proc_macro2::TokenStream;
use quote::quote;
use syn::meta::ParseNestedMeta;
use syn::{Attribute, Expr, Lit, LitStr, Token, UnOp};

/// serde's `rename_all` rules.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum RenameRule {
    Lower,
    Upper,
    Pascal,
    Camel,
    Snake,
    ScreamingSnake,
    Kebab,
    ScreamingKebab,
}

impl RenameRule {
    fn parse(lit: &LitStr) -> syn::Result<Self> {
        Ok(match lit.value().as_str() {
            "lowercase" => RenameRule::Lower,
            "UPPERCASE" => RenameRule::Upper,
            "PascalCase" => RenameRule::Pascal,
            "camelCase" => RenameRule::Camel,
            "snake_case" => RenameRule::Snake,
            "SCREAMING_SNAKE_CASE" => RenameRule::ScreamingSnake,
            "kebab-case" => RenameRule::Kebab,
            "SCREAMING-KEBAB-CASE" => RenameRule::ScreamingKebab,
            other => {
                return Err(syn::Error::new(
                    lit.span(),
                    format!("unknown rename_all rule {other:?}"),
                ))
            }
        })
    }

    /// Renames a field (a snake_case identifier), as serde does.
    pub fn apply_to_field(self, field: &str) -> String {
        match self {
            RenameRule::Lower | RenameRule::Snake => field.to_owned(),
            RenameRule::Upper | RenameRule::ScreamingSnake => field.to_ascii_uppercase(),
            RenameRule::Pascal => {
                let mut pascal = String::new();
                let mut capitalize = true;
                for ch in field.chars() {
                    if ch == '_' {
                        capitalize = true;
                    } else if capitalize {
                        pascal.push(ch.to_ascii_uppercase());
                        capitalize = false;
                    } else {
                        pascal.push(ch);
                    }
                }
                pascal
            }
            RenameRule::Camel => lower_first(&RenameRule::Pascal.apply_to_field(field)),
            RenameRule::Kebab => field.replace('_', "-"),
            RenameRule::ScreamingKebab => field.to_ascii_uppercase().replace('_', "-"),
        }
    }

    /// Renames a variant (a PascalCase identifier), as serde does.
    pub fn apply_to_variant(self, variant: &str) -> String {
        match self {
            RenameRule::Pascal => variant.to_owned(),
            RenameRule::Lower => variant.to_ascii_lowercase(),
            RenameRule::Upper => variant.to_ascii_uppercase(),
            RenameRule::Camel => lower_first(variant),
            RenameRule::Snake => {
                let mut snake = String::new();
                for (i, ch) in variant.char_indices() {
                    if i > 0 && ch.is_uppercase() {
                        snake.push('_');
                    }
                    snake.push(ch.to_ascii_lowercase());
                }
                snake
            }
            RenameRule::ScreamingSnake => RenameRule::Snake
                .apply_to_variant(variant)
                .to_ascii_uppercase(),
            RenameRule::Kebab => RenameRule::Snake
                .apply_to_variant(variant)
                .replace('_', "-"),
            RenameRule::ScreamingKebab => RenameRule::ScreamingSnake
                .apply_to_variant(variant)
                .replace('_', "-"),
        }
    }
}

fn lower_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(first) => first.to_ascii_lowercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

/// Consumes the value of a nested meta item we do not interpret.
fn skip_value(meta: &ParseNestedMeta) -> syn::Result<()> {
    if meta.input.peek(Token![=]) {
        meta.value()?.parse::<Expr>()?;
    } else if meta.input.peek(syn::token::Paren) {
        let content;
        syn::parenthesized!(content in meta.input);
        content.parse::<TokenStream>()?;
    }
    Ok(())
}

fn meta_name(meta: &ParseNestedMeta) -> String {
    meta.path
        .get_ident()
        .map(|i| i.to_string())
        .unwrap_or_default()
}

fn shape_error(meta: &ParseNestedMeta, what: &str) -> syn::Error {
    meta.error(format!(
        "#[serde({})] changes the JSON shape of the {what}, which the Moose schema cannot \
         describe; remove it or model the shape explicitly",
        meta_name(meta)
    ))
}

fn lit_str(meta: &ParseNestedMeta, key: &str) -> syn::Result<LitStr> {
    if meta.input.peek(syn::token::Paren) {
        return Err(meta.error(format!(
            "use #[serde({key} = \"...\")]: separate serialize/deserialize names are not supported"
        )));
    }
    meta.value()?.parse()
}

/// serde attributes of a struct or enum.
#[derive(Default)]
pub struct SerdeContainer {
    pub rename_all: Option<RenameRule>,
    /// `#[serde(default)]` on the container.
    pub default: bool,
}

pub fn serde_container(attrs: &[Attribute], what: &str) -> syn::Result<SerdeContainer> {
    let mut out = SerdeContainer::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| match meta_name(&meta).as_str() {
            "rename_all" => {
                out.rename_all = Some(RenameRule::parse(&lit_str(&meta, "rename_all")?)?);
                Ok(())
            }
            "default" => {
                out.default = true;
                skip_value(&meta)
            }
            "tag" | "content" | "untagged" | "transparent" | "remote" | "into" | "from"
            | "try_from" => Err(shape_error(&meta, what)),
            _ => skip_value(&meta),
        })?;
    }
    Ok(out)
}

/// serde attributes of a field or variant.
#[derive(Default)]
pub struct SerdeMember {
    pub rename: Option<String>,
    pub skip: bool,
    pub default: bool,
}

pub fn serde_member(attrs: &[Attribute], what: &str) -> syn::Result<SerdeMember> {
    let mut out = SerdeMember::default();
    for attr in attrs.iter().filter(|a| a.path().is_ident("serde")) {
        attr.parse_nested_meta(|meta| match meta_name(&meta).as_str() {
            "rename" => {
                out.rename = Some(lit_str(&meta, "rename")?.value());
                Ok(())
            }
            "skip" => {
                out.skip = true;
                Ok(())
            }
            "default" => {
                out.default = true;
                skip_value(&meta)
            }
            "flatten" | "with" | "serialize_with" | "deserialize_with" | "skip_serializing"
            | "skip_deserializing" | "getter" | "other" | "untagged" | "tag" => {
                Err(shape_error(&meta, what))
            }
            _ => skip_value(&meta),
        })?;
    }
    Ok(out)
}

/// The doc comment, lines joined with `\n`, or `None` when empty.
pub fn doc(attrs: &[Attribute]) -> Option<String> {
    let lines: Vec<String> = attrs
        .iter()
        .filter(|a| a.path().is_ident("doc"))
        .filter_map(|a| match &a.meta {
            syn::Meta::NameValue(nv) => match &nv.value {
                Expr::Lit(syn::ExprLit {
                    lit: Lit::Str(s), ..
                }) => Some(s.value()),
                _ => None,
            },
            _ => None,
        })
        .map(|line| {
            line.strip_prefix(' ')
                .unwrap_or(&line)
                .trim_end()
                .to_owned()
        })
        .collect();
    let text = lines.join("\n").trim().to_owned();
    (!text.is_empty()).then_some(text)
}

/// `Option<String>` as tokens.
pub fn opt_string(value: &Option<String>) -> TokenStream {
    match value {
        Some(s) => quote!(::core::option::Option::Some(::std::string::String::from(#s))),
        None => quote!(::core::option::Option::None),
    }
}

/// An integer or float literal, optionally negated, as `f64`.
pub fn parse_number(expr: &Expr) -> syn::Result<f64> {
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(i), ..
        }) => i.base10_parse::<f64>(),
        Expr::Lit(syn::ExprLit {
            lit: Lit::Float(f), ..
        }) => f.base10_parse::<f64>(),
        Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => Ok(-parse_number(&u.expr)?),
        Expr::Group(g) => parse_number(&g.expr),
        other => Err(syn::Error::new_spanned(other, "expected a number literal")),
    }
}

/// An integer literal, optionally negated.
pub fn parse_int(expr: &Expr) -> syn::Result<i64> {
    match expr {
        Expr::Lit(syn::ExprLit {
            lit: Lit::Int(i), ..
        }) => i.base10_parse::<i64>(),
        Expr::Unary(u) if matches!(u.op, UnOp::Neg(_)) => Ok(-parse_int(&u.expr)?),
        Expr::Group(g) => parse_int(&g.expr),
        other => Err(syn::Error::new_spanned(
            other,
            "expected an integer literal",
        )),
    }
}

/// Parses every `#[moose(...)]` attribute with `f`.
pub fn parse_moose(
    attrs: &[Attribute],
    mut f: impl FnMut(&str, &ParseNestedMeta) -> syn::Result<()>,
) -> syn::Result<()> {
    for attr in attrs.iter().filter(|a| a.path().is_ident("moose")) {
        attr.parse_nested_meta(|meta| f(&meta_name(&meta), &meta))?;
    }
    Ok(())
}

/// The error for an unknown `#[moose(...)]` key.
pub fn unknown_key(meta: &ParseNestedMeta, name: &str, allowed: &str) -> syn::Error {
    meta.error(format!(
        "unknown moose attribute `{name}` here; expected one of: {allowed}"
    ))
}

#[cfg(test)]
mod tests {
    use super::RenameRule::*;

    #[test]
    fn field_rules_match_serde() {
        let f = "order_id_2";
        assert_eq!(Lower.apply_to_field(f), "order_id_2");
        assert_eq!(Upper.apply_to_field(f), "ORDER_ID_2");
        assert_eq!(Pascal.apply_to_field(f), "OrderId2");
        assert_eq!(Camel.apply_to_field(f), "orderId2");
        assert_eq!(Snake.apply_to_field(f), "order_id_2");
        assert_eq!(ScreamingSnake.apply_to_field(f), "ORDER_ID_2");
        assert_eq!(Kebab.apply_to_field(f), "order-id-2");
        assert_eq!(ScreamingKebab.apply_to_field(f), "ORDER-ID-2");
    }

    #[test]
    fn variant_rules_match_serde() {
        let v = "OnHold";
        assert_eq!(Lower.apply_to_variant(v), "onhold");
        assert_eq!(Upper.apply_to_variant(v), "ONHOLD");
        assert_eq!(Pascal.apply_to_variant(v), "OnHold");
        assert_eq!(Camel.apply_to_variant(v), "onHold");
        assert_eq!(Snake.apply_to_variant(v), "on_hold");
        assert_eq!(ScreamingSnake.apply_to_variant(v), "ON_HOLD");
        assert_eq!(Kebab.apply_to_variant(v), "on-hold");
        assert_eq!(ScreamingKebab.apply_to_variant(v), "ON-HOLD");
    }
}
