//! Bindings generated from `wit/moose.wit` (world `moose-app`). Not a public API: the
//! rest of the SDK wraps them, and [`export_app!`](crate::export_app) uses the generated
//! export macro.
#![allow(missing_docs, clippy::all)]

wit_bindgen::generate!({
    path: "wit",
    world: "moose-app",
    pub_export_macro: true,
    export_macro_name: "__export_moose_app",
    default_bindings_module: "::moose_guest::__private::bindings",
    runtime_path: "::moose_guest::__private::wit_bindgen::rt",
});
