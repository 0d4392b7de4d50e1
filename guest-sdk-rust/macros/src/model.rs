//! `#[derive(Model)]`.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::{Data, DataEnum, DataStruct, DeriveInput, Fields, LitInt, LitStr};

use crate::attrs::{self, opt_string};

pub fn expand(input: &DeriveInput) -> syn::Result<TokenStream> {
    if !input.generics.params.is_empty() || input.generics.where_clause.is_some() {
        return Err(syn::Error::new_spanned(
            &input.generics,
            "#[derive(Model)] does not support generic types",
        ));
    }
    match &input.data {
        Data::Struct(data) => expand_struct(input, data),
        Data::Enum(data) => expand_enum(input, data),
        Data::Union(_) => Err(syn::Error::new_spanned(
            &input.ident,
            "#[derive(Model)] supports structs with named fields and unit enums",
        )),
    }
}

fn expand_struct(input: &DeriveInput, data: &DataStruct) -> syn::Result<TokenStream> {
    let ident = &input.ident;
    let Fields::Named(named) = &data.fields else {
        return Err(syn::Error::new_spanned(
            ident,
            "#[derive(Model)] needs a struct with named fields",
        ));
    };

    let mut name = ident.unraw().to_string();
    let mut version: Option<String> = None;
    attrs::parse_moose(&input.attrs, |key, meta| match key {
        "name" => {
            name = meta.value()?.parse::<LitStr>()?.value();
            Ok(())
        }
        "version" => {
            version = Some(meta.value()?.parse::<LitStr>()?.value());
            Ok(())
        }
        other => Err(attrs::unknown_key(meta, other, "name, version")),
    })?;
    let container = attrs::serde_container(&input.attrs, "struct")?;
    let doc = opt_string(&attrs::doc(&input.attrs));
    let reference = match &version {
        Some(v) => format!("{name}@{v}"),
        None => name.clone(),
    };
    let version = opt_string(&version);

    let mut fields = Vec::new();
    let mut collects = Vec::new();
    let mut checks = Vec::new();
    for field in &named.named {
        let serde = attrs::serde_member(&field.attrs, "field")?;
        let mut key = false;
        let mut default: Option<String> = None;
        let mut codec: Option<String> = None;
        let mut ttl: Option<String> = None;
        let mut low_cardinality = false;
        let mut fixed_string: Option<u32> = None;
        let mut datetime64: Option<u8> = None;
        let mut aggregate = quote!(::core::option::Option::None);
        attrs::parse_moose(&field.attrs, |k, meta| match k {
            "aggregate" => {
                aggregate = aggregate_state(meta)?;
                Ok(())
            }
            "simple_aggregate" => {
                let function = meta.value()?.parse::<LitStr>()?.value();
                aggregate = quote!(::core::option::Option::Some(
                    ::moose_guest::defs::AggregateColumn {
                        function: ::std::string::String::from(#function),
                        kind: ::moose_guest::defs::AggregateKind::Simple,
                    }
                ));
                Ok(())
            }
            "key" => {
                key = true;
                Ok(())
            }
            "default" => {
                default = Some(meta.value()?.parse::<LitStr>()?.value());
                Ok(())
            }
            "codec" => {
                codec = Some(meta.value()?.parse::<LitStr>()?.value());
                Ok(())
            }
            "ttl" => {
                ttl = Some(meta.value()?.parse::<LitStr>()?.value());
                Ok(())
            }
            "low_cardinality" => {
                low_cardinality = true;
                Ok(())
            }
            "fixed_string" => {
                let lit: LitInt = meta.value()?.parse()?;
                let bytes: u32 = lit.base10_parse()?;
                if bytes == 0 {
                    return Err(syn::Error::new(
                        lit.span(),
                        "fixed_string needs at least 1 byte",
                    ));
                }
                fixed_string = Some(bytes);
                Ok(())
            }
            "datetime64" => {
                let lit: LitInt = meta.value()?.parse()?;
                let precision: u8 = lit.base10_parse()?;
                if precision > 9 {
                    return Err(syn::Error::new(lit.span(), "datetime64 precision is 0..=9"));
                }
                datetime64 = Some(precision);
                Ok(())
            }
            other => Err(attrs::unknown_key(
                meta,
                other,
                "key, default, codec, ttl, low_cardinality, fixed_string, datetime64, \
                 aggregate, simple_aggregate",
            )),
        })?;
        if serde.skip {
            continue;
        }
        let Some(field_ident) = &field.ident else {
            continue;
        };
        let rust_name = field_ident.unraw().to_string();
        let column = serde.rename.unwrap_or_else(|| match container.rename_all {
            Some(rule) => rule.apply_to_field(&rust_name),
            None => rust_name.clone(),
        });
        let ty = &field.ty;
        let span = ty.span();
        let mut data_type = quote_spanned!(span=> <#ty as ::moose_guest::MooseType>::data_type());
        if low_cardinality {
            data_type = quote!(::moose_guest::schema::low_cardinality(#data_type));
            checks.push(quote_spanned!(span=>
                ::moose_guest::schema::__derive::assert_string_leaf::<#ty>();
            ));
        }
        if let Some(bytes) = fixed_string {
            data_type = quote!(::moose_guest::schema::fixed_string(#data_type, #bytes));
            checks.push(quote_spanned!(span=>
                ::moose_guest::schema::__derive::assert_string_leaf::<#ty>();
            ));
        }
        if let Some(precision) = datetime64 {
            data_type = quote!(::moose_guest::schema::datetime64(#data_type, #precision));
            checks.push(quote_spanned!(span=>
                ::moose_guest::schema::__derive::assert_datetime_leaf::<#ty>();
            ));
        }
        let default = opt_string(&default);
        let codec = opt_string(&codec);
        let ttl = opt_string(&ttl);
        let field_doc = opt_string(&attrs::doc(&field.attrs));
        fields.push(quote! {
            ::moose_guest::defs::Field {
                name: ::std::string::String::from(#column),
                data_type: #data_type,
                key: #key,
                default: #default,
                doc: #field_doc,
                aggregate: #aggregate,
                codec: #codec,
                ttl: #ttl,
            }
        });
        collects.push(quote_spanned!(span=>
            <#ty as ::moose_guest::MooseType>::collect_models(models);
        ));
    }

    Ok(quote! {
        const _: () = {
            impl ::moose_guest::MooseType for #ident {
                fn data_type() -> ::moose_guest::defs::DataType {
                    ::moose_guest::defs::DataType::scalar(::moose_guest::defs::ScalarType::Nested(
                        ::std::string::String::from(<Self as ::moose_guest::Model>::REF),
                    ))
                }

                fn collect_models(models: &mut ::moose_guest::schema::ModelSet) {
                    if models.add(<Self as ::moose_guest::Model>::model_def()) {
                        #(#collects)*
                    }
                }
            }

            impl ::moose_guest::Model for #ident {
                const NAME: &'static str = #name;
                const REF: &'static str = #reference;

                fn model_def() -> ::moose_guest::defs::ModelDef {
                    ::moose_guest::defs::ModelDef {
                        name: ::std::string::String::from(#name),
                        version: #version,
                        fields: ::std::vec![#(#fields),*],
                        doc: #doc,
                    }
                }
            }

            #[allow(dead_code)]
            fn moose_attribute_checks() {
                #(#checks)*
            }
        };
    })
}

fn expand_enum(input: &DeriveInput, data: &DataEnum) -> syn::Result<TokenStream> {
    let ident = &input.ident;
    attrs::parse_moose(&input.attrs, |key, meta| {
        Err(attrs::unknown_key(meta, key, "(none on enums)"))
    })?;
    let container = attrs::serde_container(&input.attrs, "enum")?;
    if data.variants.is_empty() {
        return Err(syn::Error::new_spanned(
            ident,
            "a Model enum needs at least one variant",
        ));
    }

    let mut members: Vec<(String, i16)> = Vec::new();
    let mut arms = Vec::new();
    let mut next: i64 = 1;
    for variant in &data.variants {
        if !matches!(variant.fields, Fields::Unit) {
            return Err(syn::Error::new_spanned(
                variant,
                "#[derive(Model)] enums must have unit variants only",
            ));
        }
        attrs::parse_moose(&variant.attrs, |key, meta| {
            Err(attrs::unknown_key(meta, key, "(none on variants)"))
        })?;
        let serde = attrs::serde_member(&variant.attrs, "variant")?;
        if serde.skip {
            return Err(syn::Error::new_spanned(
                variant,
                "#[serde(skip)] on a Model enum variant is not supported",
            ));
        }
        let value = match &variant.discriminant {
            Some((_, expr)) => attrs::parse_int(expr)?,
            None => next,
        };
        let value16 = i16::try_from(value).map_err(|_| {
            syn::Error::new_spanned(variant, format!("enum value {value} does not fit i16"))
        })?;
        next = value + 1;
        let rust_name = variant.ident.unraw().to_string();
        let name = serde.rename.unwrap_or_else(|| match container.rename_all {
            Some(rule) => rule.apply_to_variant(&rust_name),
            None => rust_name.clone(),
        });
        if members.iter().any(|(n, _)| *n == name) {
            return Err(syn::Error::new_spanned(
                variant,
                format!("two variants are named {name:?}"),
            ));
        }
        if members.iter().any(|(_, v)| *v == value16) {
            return Err(syn::Error::new_spanned(
                variant,
                format!("two variants have value {value16}"),
            ));
        }
        let v = &variant.ident;
        arms.push(quote!(#ident::#v => #name));
        members.push((name, value16));
    }
    let members = members.iter().map(|(name, value)| {
        quote! {
            ::moose_guest::defs::EnumMember {
                name: ::std::string::String::from(#name),
                value: #value,
            }
        }
    });

    Ok(quote! {
        const _: () = {
            impl ::moose_guest::MooseType for #ident {
                fn data_type() -> ::moose_guest::defs::DataType {
                    ::moose_guest::defs::DataType::scalar(::moose_guest::defs::ScalarType::Enum(
                        ::std::vec![#(#members),*],
                    ))
                }
            }

            impl ::moose_guest::QueryValue for #ident {
                fn to_query_text(&self) -> ::std::string::String {
                    let name: &str = match self {
                        #(#arms),*
                    };
                    <str as ::moose_guest::QueryValue>::to_query_text(name)
                }
            }
        };
    })
}

/// `aggregate(uniq, String)` or `aggregate("quantiles(0.5, 0.9)", f64)`: the function
/// (a name or a string with parameters), then the Rust types of its arguments.
fn aggregate_state(meta: &syn::meta::ParseNestedMeta) -> syn::Result<TokenStream> {
    let content;
    syn::parenthesized!(content in meta.input);
    let function = if content.peek(LitStr) {
        content.parse::<LitStr>()?.value()
    } else {
        content.parse::<syn::Ident>()?.to_string()
    };
    let mut arguments = Vec::new();
    while !content.is_empty() {
        content.parse::<syn::Token![,]>()?;
        if content.is_empty() {
            break;
        }
        arguments.push(content.parse::<syn::Type>()?);
    }
    Ok(quote!(::core::option::Option::Some(
        ::moose_guest::defs::AggregateColumn {
            function: ::std::string::String::from(#function),
            kind: ::moose_guest::defs::AggregateKind::State(::std::vec![
                #(<#arguments as ::moose_guest::MooseType>::data_type()),*
            ]),
        }
    )))
}
