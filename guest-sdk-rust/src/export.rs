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
