//! Exporting an [`App`] as the component's `guest` interface.

use crate::app::App;
use crate::bindings::moose::app::types as wit;

/// Exports `app` (a `fn() -> App`) as the component's implementation of the
/// `moose:app/guest` interface. Call it once, at the root of the component crate.
///
/// The app is built on first use and kept for the life of the instance.
///
/// ```ignore
/// pub fn app() -> moose_guest::App { moose_guest::App::new() }
/// moose_guest::export_app!(app);
/// ```
#[macro_export]
macro_rules! export_app {
    ($app:expr) => {
        const _: () = {
            struct MooseGuestComponent;

            fn moose_app() -> &'static $crate::App {
                static APP: ::std::sync::OnceLock<$crate::App> = ::std::sync::OnceLock::new();
                APP.get_or_init(|| ($app)())
            }

            impl $crate::__private::Guest for MooseGuestComponent {
                fn describe() -> $crate::__private::wit::AppDef {
                    $crate::__private::describe(moose_app())
                }

                fn process(
                    function: ::std::string::String,
                    input: $crate::__private::wit::Batch,
                ) -> ::core::result::Result<
                    $crate::__private::wit::ProcessOutput,
                    $crate::__private::wit::GuestError,
                > {
                    $crate::__private::process(moose_app(), &function, input)
                }

                fn handle_api(
                    api: ::std::string::String,
                    params: ::std::vec::Vec<u8>,
                ) -> ::core::result::Result<
                    $crate::__private::wit::ApiResponse,
                    $crate::__private::wit::ApiError,
                > {
                    $crate::__private::handle_api(moose_app(), &api, &params)
                }

                fn window_init(
                    aggregation: ::std::string::String,
                    window: $crate::__private::wit::WindowBounds,
                ) -> ::core::result::Result<::std::vec::Vec<u8>, $crate::__private::wit::GuestError>
                {
                    $crate::__private::window_init(moose_app(), &aggregation, window)
                }

                fn window_accumulate(
                    aggregation: ::std::string::String,
                    window: $crate::__private::wit::WindowBounds,
                    state: ::std::vec::Vec<u8>,
                    input: $crate::__private::wit::Batch,
                ) -> ::core::result::Result<
                    $crate::__private::wit::AccumulateOutput,
                    $crate::__private::wit::GuestError,
                > {
                    $crate::__private::window_accumulate(
                        moose_app(),
                        &aggregation,
                        window,
                        state,
                        input,
                    )
                }

                fn window_merge(
                    aggregation: ::std::string::String,
                    window: $crate::__private::wit::WindowBounds,
                    a: ::std::vec::Vec<u8>,
                    b: ::std::vec::Vec<u8>,
                ) -> ::core::result::Result<::std::vec::Vec<u8>, $crate::__private::wit::GuestError>
                {
                    $crate::__private::window_merge(moose_app(), &aggregation, window, a, b)
                }

                fn window_emit(
                    aggregation: ::std::string::String,
                    window: $crate::__private::wit::WindowBounds,
                    state: ::std::vec::Vec<u8>,
                ) -> ::core::result::Result<
                    $crate::__private::wit::Batch,
                    $crate::__private::wit::GuestError,
                > {
                    $crate::__private::window_emit(moose_app(), &aggregation, window, state)
                }
            }

            $crate::__private::bindings::__export_moose_app!(
                MooseGuestComponent with_types_in $crate::__private::bindings
            );
        };
    };
}

/// `describe`, for the exported component.
pub fn describe(app: &App) -> wit::AppDef {
    app.describe().into()
}

/// `process`, for the exported component.
pub fn process(
    app: &App,
    function: &str,
    input: wit::Batch,
) -> Result<wit::ProcessOutput, wit::GuestError> {
    app.process(function, &input.into())
        .map(Into::into)
        .map_err(Into::into)
}

/// `handle-api`, for the exported component.
pub fn handle_api(app: &App, api: &str, params: &[u8]) -> Result<wit::ApiResponse, wit::ApiError> {
    app.handle_api(api, params)
        .map(Into::into)
        .map_err(Into::into)
}

/// `window-init`, for the exported component.
pub fn window_init(
    app: &App,
    aggregation: &str,
    window: wit::WindowBounds,
) -> Result<Vec<u8>, wit::GuestError> {
    app.window_init(aggregation, &window.into())
        .map_err(Into::into)
}

/// `window-accumulate`, for the exported component.
pub fn window_accumulate(
    app: &App,
    aggregation: &str,
    window: wit::WindowBounds,
    state: Vec<u8>,
    input: wit::Batch,
) -> Result<wit::AccumulateOutput, wit::GuestError> {
    app.window_accumulate(aggregation, &window.into(), &state, &input.into())
        .map(Into::into)
        .map_err(Into::into)
}

/// `window-merge`, for the exported component.
pub fn window_merge(
    app: &App,
    aggregation: &str,
    window: wit::WindowBounds,
    a: Vec<u8>,
    b: Vec<u8>,
) -> Result<Vec<u8>, wit::GuestError> {
    app.window_merge(aggregation, &window.into(), &a, &b)
        .map_err(Into::into)
}

/// `window-emit`, for the exported component.
pub fn window_emit(
    app: &App,
    aggregation: &str,
    window: wit::WindowBounds,
    state: Vec<u8>,
) -> Result<wit::Batch, wit::GuestError> {
    app.window_emit(aggregation, &window.into(), &state)
        .map(Into::into)
        .map_err(Into::into)
}
