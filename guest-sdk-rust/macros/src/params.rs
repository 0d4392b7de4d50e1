//! `#[derive(ApiParams)]`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Data, DeriveInput, Expr, Fields, Lit};

use crate::attrs::{self, opt_string};

pub fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    let ident = &input.ident;
    if !input.generics.params.is_empty() || input.generics.where_clause.is_some() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            "#[derive(ApiParams)] does not support generic types",
        ));
    }
    let Data::Struct(data) = &input.data else {
        return Err(syn::Error::new_spanned(
            ident,
            "#[derive(ApiParams)] needs a struct with named fields",
        ));
    };
    let Fields::Named(named) = &data.fields else {
        return Err(syn::Error::new_spanned(
            ident,
            "#[derive(ApiParams)] needs a struct with named fields",
        ));
    };
    attrs::parse_moose(&input.attrs, |key, meta| {
        Err(attrs::unknown_key(meta, key, "(none on the struct)"))
    })?;
    let container = attrs::serde_container(&input.attrs, "struct")?;

    let mut params = Vec::new();
    for field in &named.named {
        let serde = attrs::serde_member(&field.attrs, "field")?;
        let mut default: Option<String> = None;
        let mut min: Option<f64> = None;
        let mut max: Option<f64> = None;
        attrs::parse_moose(&field.attrs, |key, meta| match key {
            "default" => {
                let expr: Expr = meta.value()?.parse()?;
                default = Some(match &expr {
                    Expr::Lit(syn::ExprLit {
                        lit: Lit::Str(s), ..
                    }) => s.value(),
                    Expr::Lit(syn::ExprLit {
                        lit: Lit::Bool(b), ..
                    }) => b.value.to_string(),
                    other => attrs::parse_number(other)
                        .map(|_| quote!(#other).to_string().replace(' ', ""))?,
                });
                Ok(())
            }
            "min" => {
                min = Some(attrs::parse_number(&meta.value()?.parse()?)?);
                Ok(())
            }
            "max" => {
                max = Some(attrs::parse_number(&meta.value()?.parse()?)?);
                Ok(())
            }
            other => Err(attrs::unknown_key(meta, other, "default, min, max")),
        })?;
        if serde.skip {
            continue;
        }
        let Some(field_ident) = &field.ident else {
            continue;
        };
        let rust_name = field_ident.unraw().to_string();
        let name = serde.rename.unwrap_or_else(|| match container.rename_all {
            Some(rule) => rule.apply_to_field(&rust_name),
            None => rust_name.clone(),
        });
        let has_default = default.is_some() || serde.default || container.default;
        let default = opt_string(&default);
        let min = opt_f64(min);
        let max = opt_f64(max);
        let doc = opt_string(&attrs::doc(&field.attrs));
        let ty = &field.ty;
        params.push(quote_spanned! {ty.span()=>
            ::moose_guest::api::__derive::param::<#ty>(
                #name, #has_default, #default, #min, #max, #doc,
            )
        });
    }

    Ok(quote! {
        impl ::moose_guest::ApiParams for #ident {
            fn params() -> ::std::vec::Vec<::moose_guest::defs::ApiParam> {
                ::std::vec![#(#params),*]
            }
        }
    })
}

fn opt_f64(value: Option<f64>) -> TokenStream {
    match value {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}
