//! A contact link as a QR code: an SVG for the page, text blocks for a terminal.

use qrcode::QrCode;
use qrcode::render::{svg, unicode};

/// `text` as an SVG QR code.
pub fn svg(text: &str) -> String {
    code(text)
        .render::<svg::Color<'_>>()
        .min_dimensions(256, 256)
        .quiet_zone(true)
        .build()
}

/// `text` as a QR code of Unicode half blocks, two rows a line, for a terminal.
pub fn terminal(text: &str) -> String {
    code(text)
        .render::<unicode::Dense1x2>()
        .dark_color(unicode::Dense1x2::Light)
        .light_color(unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build()
}

fn code(text: &str) -> QrCode {
    // A link is about 70 characters: far below what the largest code holds, so this cannot fail.
    QrCode::new(text.as_bytes()).expect("a contact link fits in a QR code")
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_link_makes_an_svg_and_a_terminal_code() {
        let link = "courier://v1/5b38388667cd1d1f7a9a1b0f8d2f6f5f0d2e4e8a9b7c6d5e4f3a2b1c0d9e8f7a";
        let svg = super::svg(link);
        assert!(svg.starts_with("<?xml") && svg.contains("<svg"), "{svg}");
        let text = super::terminal(link);
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines.len() > 10
                && lines
                    .iter()
                    .all(|l| l.chars().count() == lines[0].chars().count())
        );
        assert_ne!(super::svg("courier://other"), svg);
    }
}
