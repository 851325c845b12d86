//! QR codes as inline SVG, for the console's link channel: a customer in a branch scans the
//! approval link from the agent's screen. The encoder is `qrcodegen` (pure Rust, no
//! dependencies), so the server renders the same SVG the browser would.

use leptos::prelude::*;
use qrcodegen::{QrCode, QrCodeEcc};

/// The quiet zone around the code, in modules (the standard asks for four).
const BORDER: i32 = 4;

/// A QR code drawn as one SVG path: the side in modules (quiet zone included) and the path
/// data, one `h1v1h-1z` square per dark module, run-length merged along rows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QrPath {
    /// Width and height of the drawing, in modules.
    pub side: i32,
    /// The `d` attribute of the path of the dark modules.
    pub data: String,
}

/// The QR code of `text` (error correction level M), or `None` when the text is too long for
/// any QR code.
pub fn encode(text: &str) -> Option<QrPath> {
    let code = QrCode::encode_text(text, QrCodeEcc::Medium).ok()?;
    let size = code.size();
    let mut data = String::new();
    for y in 0..size {
        let mut x = 0;
        while x < size {
            if code.get_module(x, y) {
                let start = x;
                while x < size && code.get_module(x, y) {
                    x += 1;
                }
                data.push_str(&format!(
                    "M{},{}h{}v1h-{}z",
                    start + BORDER,
                    y + BORDER,
                    x - start,
                    x - start
                ));
            } else {
                x += 1;
            }
        }
    }
    Some(QrPath {
        side: size + 2 * BORDER,
        data,
    })
}

/// `text` as a QR code, `label` being what a screen reader says about it. Renders nothing
/// when the text cannot be encoded.
#[component]
pub fn QrCodeSvg(
    /// What the code holds.
    text: String,
    /// The accessible name of the picture.
    label: String,
) -> impl IntoView {
    encode(&text).map(|qr| {
        let view_box = format!("0 0 {0} {0}", qr.side);
        view! {
            <svg
                class="qr"
                role="img"
                aria-label=label
                viewBox=view_box
                shape-rendering="crispEdges"
                xmlns="http://www.w3.org/2000/svg"
            >
                <rect width="100%" height="100%" fill="#ffffff" />
                <path d=qr.data fill="#000000" />
            </svg>
        }
    })
}

#[cfg(test)]
mod tests;
