//! The adapters, one folder each, built only on the pipeline's traits and the ports. No
//! adapter imports another; [`register_builtin`] is the one place that names them all.

#[cfg(feature = "fracttal")]
pub mod fracttal;
#[cfg(feature = "http")]
pub mod http;
#[cfg(feature = "rdconversas")]
pub mod rdconversas;
#[cfg(feature = "rm")]
pub mod rm;
#[cfg(any(
    feature = "fracttal",
    feature = "rm",
    feature = "rdconversas",
    feature = "timelines",
    feature = "twilio",
    feature = "whatsapp"
))]
pub(crate) mod shared;
#[cfg(feature = "timelines")]
pub mod timelines;
#[cfg(feature = "twilio")]
pub mod twilio;
#[cfg(feature = "whatsapp")]
pub mod whatsapp;

/// Registers every adapter kind compiled into this build.
pub(crate) fn register_builtin(#[allow(unused_variables)] registry: &mut crate::spec::Registry) {
    #[cfg(feature = "http")]
    http::register(registry);
    #[cfg(feature = "fracttal")]
    fracttal::register(registry);
    #[cfg(feature = "whatsapp")]
    whatsapp::register(registry);
    #[cfg(feature = "timelines")]
    timelines::register(registry);
    #[cfg(feature = "twilio")]
    twilio::register(registry);
    #[cfg(feature = "rdconversas")]
    rdconversas::register(registry);
    #[cfg(feature = "rm")]
    rm::register(registry);
}
