//! Guest SDK for Courier plugins.
//!
//! A plugin crate depends on this one with the feature of its world (`transport` or `message-type`),
//! implements the SDK's trait for that world ([`content_type::ContentType`] for a one-version
//! message type, [`driver::Driver`] for a transport; or the generated `Guest` traits directly) and
//! calls the matching export macro:
//!
//! ```ignore
//! use courier_plugin::content_type::{ContentType, Exports};
//! struct Text;
//! impl ContentType for Text { /* name, limits, prepare, validate, summary */ }
//! type Plugin = Exports<Text>;
//! courier_plugin::export_message_type!(Plugin);
//! ```
//!
//! The WIT package is in `plugin-api/wit`; it is the one contract between the host and plugins.
//! `plugin-api/README.md` is the plugin author's guide.

// Lets the generated code name this crate the same way from inside and from plugin crates.
extern crate self as courier_plugin;

#[doc(hidden)]
pub use wit_bindgen as __wit_bindgen;

#[cfg(feature = "message-type")]
pub mod content_type;
#[cfg(feature = "transport")]
pub mod driver;
pub mod framing;
#[cfg(feature = "message-type")]
pub mod payload;
pub mod settings;
#[cfg(feature = "transport")]
pub mod simplex;
pub use courier_text_safety as text_safety;
#[cfg(feature = "message-type")]
pub mod text;
pub mod uri;

/// The version of the WIT package these bindings were generated from.
pub const API_VERSION: &str = "0.1.0";

/// Bindings for the `transport` world.
#[cfg(feature = "transport")]
pub mod transport {
    wit_bindgen::generate!({
        path: "wit",
        world: "transport",
        pub_export_macro: true,
        export_macro_name: "export_transport",
        // So plugin authors can compare events and actions in their native tests.
        additional_derives: [PartialEq, Eq, Clone],
        default_bindings_module: "courier_plugin::transport",
        runtime_path: "courier_plugin::__wit_bindgen::rt",
    });
}

/// Bindings for the `message-type` world.
#[cfg(feature = "message-type")]
pub mod message_type {
    wit_bindgen::generate!({
        path: "wit",
        world: "message-type",
        pub_export_macro: true,
        export_macro_name: "export_message_type",
        additional_derives: [PartialEq, Eq, Clone],
        default_bindings_module: "courier_plugin::message_type",
        runtime_path: "courier_plugin::__wit_bindgen::rt",
    });
}

/// Exports a type implementing the transport world's `Guest` traits as the plugin's component exports.
///
/// Exports exist only in the wasm build: natively (unit tests, benchmarks) the plugin is a plain library,
/// and the WIT export names would not even link.
#[cfg(feature = "transport")]
#[macro_export]
macro_rules! export_transport {
    ($ty:ident) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            $crate::transport::export_transport!($ty);
        };
    };
}

/// Exports a type implementing the message-type world's `Guest` trait as the plugin's component exports.
///
/// Exports exist only in the wasm build, as with [`export_transport!`].
#[cfg(feature = "message-type")]
#[macro_export]
macro_rules! export_message_type {
    ($ty:ident) => {
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            $crate::message_type::export_message_type!($ty);
        };
    };
}

#[cfg(all(feature = "message-type", target_arch = "wasm32"))]
#[doc(hidden)]
pub use message_type::courier::plugin::log::write as __log_write;
#[cfg(feature = "message-type")]
#[doc(hidden)]
pub use message_type::courier::plugin::types::Level as __Level;
#[cfg(all(
    feature = "transport",
    not(feature = "message-type"),
    target_arch = "wasm32"
))]
#[doc(hidden)]
pub use transport::courier::plugin::log::write as __log_write;
#[cfg(all(feature = "transport", not(feature = "message-type")))]
#[doc(hidden)]
pub use transport::courier::plugin::types::Level as __Level;

/// Natively (a plugin's unit tests) there is no host: log lines go to stderr, where the test
/// harness shows them for a failing test.
#[cfg(all(
    any(feature = "message-type", feature = "transport"),
    not(target_arch = "wasm32")
))]
#[doc(hidden)]
pub fn __log_write(level: __Level, message: &str) {
    eprintln!("[{level:?}] {message}");
}

/// Writes a line to the host's log: `log!(info, "loaded {} rules", n)`. In a native build (a
/// plugin's unit tests) the line goes to stderr instead.
///
/// Levels are `trace`, `debug`, `info`, `warn` and `error`. Never log keys, addresses or message contents.
#[macro_export]
macro_rules! log {
    (trace, $($arg:tt)+) => { $crate::__log_write($crate::__Level::Trace, &::std::format!($($arg)+)) };
    (debug, $($arg:tt)+) => { $crate::__log_write($crate::__Level::Debug, &::std::format!($($arg)+)) };
    (info, $($arg:tt)+) => { $crate::__log_write($crate::__Level::Info, &::std::format!($($arg)+)) };
    (warn, $($arg:tt)+) => { $crate::__log_write($crate::__Level::Warn, &::std::format!($($arg)+)) };
    (error, $($arg:tt)+) => { $crate::__log_write($crate::__Level::Error, &::std::format!($($arg)+)) };
}
