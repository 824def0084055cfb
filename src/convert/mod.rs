//! Pure conversions between Matrix content and interop content, kept apart from all I/O so
//! they are tested (and fuzzed) without a network.

mod html_to_markup;
mod markup_to_html;

pub use html_to_markup::html_to_markup;
pub use markup_to_html::markup_to_html;
