//! Derive macros of `moose-guest`; use them through `moose_guest::{Model, ApiParams}`.
//!
//! The generated code refers to `::moose_guest`, so the SDK must be a dependency under
//! that name.

mod attrs;
mod model;
mod params;

use proc_macro::TokenStream;
use syn::{parse_macro_input, DeriveInput};

/// Derives `moose_guest::Model` for a struct with named fields, or `MooseType` for a
/// unit enum. See the `moose-guest` documentation for the attributes.
#[proc_macro_derive(Model, attributes(moose))]
pub fn derive_model(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    model::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// Derives `moose_guest::ApiParams` for a struct with named fields.
#[proc_macro_derive(ApiParams, attributes(moose))]
pub fn derive_api_params(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    params::expand(&input)
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}
