//! The `courier/image` message type: a picture with nothing in it but pixels.
//!
//! `prepare` takes a JPEG, PNG or WebP file, decodes it, turns it upright (the EXIF orientation is
//! the one piece of metadata that changes what the picture looks like), downscales it to the
//! `max-dimension` option (default 2048 px) and encodes a fresh baseline JPEG at `quality` (default
//! 82). Nothing of the original file survives but the pixels: no EXIF (GPS, camera serial, time),
//! XMP, IPTC, ICC profile, comment or thumbnail. Transparent areas are flattened onto white, so no
//! hidden colour values under a zero alpha travel either. Files whose header promises more than
//! [`MAX_PIXELS`] are refused before any pixel is decoded (decompression bombs).
//!
//! The payload (version 1) is that JPEG file, so a received image can be saved and opened as is.
//! `validate` refuses a payload carrying any metadata segment, or one that does not decode.

use std::io::Cursor;

use courier_plugin::content_type::{ContentType, Exports};
use courier_plugin::message_type::courier::plugin::types::{PluginError, Setting};
use courier_plugin::settings::{only_keys, parse_or};
use image::codecs::jpeg::JpegEncoder;
use image::imageops::FilterType;
use image::{
    DynamicImage, ExtendedColorType, ImageDecoder, ImageFormat, ImageReader, Limits, RgbImage,
};

/// Content type name this plugin owns.
pub const CONTENT_TYPE: &str = "courier/image";
/// Most pixels a file may declare; above this it is treated as a decompression bomb.
pub const MAX_PIXELS: u64 = 50_000_000;
/// Longest side a file may declare.
const MAX_SIDE: u32 = 20_000;
/// Most bytes the decoder may allocate.
const MAX_DECODE_ALLOC: u64 = 256 << 20;
/// Largest file `prepare` reads.
pub const MAX_INPUT_BYTES: u64 = 64 << 20;
/// Largest payload: a 4096 px JPEG at quality 100 stays well below this.
pub const MAX_PAYLOAD_BYTES: u64 = 16 << 20;
/// Default longest side after downscaling.
pub const DEFAULT_MAX_DIMENSION: u32 = 2048;
const DEFAULT_QUALITY: u8 = 82;

fn invalid(message: impl Into<String>) -> PluginError {
    PluginError::InvalidInput(message.into())
}

/// What `prepare` is asked to make, from its options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Encoding {
    /// Longest side of the result, in pixels.
    pub max_dimension: u32,
    /// JPEG quality, 1-100.
    pub quality: u8,
}

impl Encoding {
    /// Reads `max-dimension` and `quality` from the options.
    pub fn from_options<S: courier_plugin::settings::Setting>(
        options: &[S],
    ) -> Result<Encoding, PluginError> {
        let max_dimension: u32 = parse_or(options, "max-dimension", DEFAULT_MAX_DIMENSION)
            .map_err(PluginError::InvalidInput)?;
        if !(16..=4096).contains(&max_dimension) {
            return Err(invalid("max-dimension is 16 to 4096 pixels"));
        }
        let quality: u8 =
            parse_or(options, "quality", DEFAULT_QUALITY).map_err(PluginError::InvalidInput)?;
        if !(1..=100).contains(&quality) {
            return Err(invalid("quality is 1 to 100"));
        }
        Ok(Encoding {
            max_dimension,
            quality,
        })
    }
}

/// A decoder for `bytes` if it is a JPEG, PNG or WebP whose header stays within the bomb limits.
fn decoder(bytes: &[u8]) -> Result<impl ImageDecoder + use<'_>, PluginError> {
    let reader = ImageReader::new(Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|e| invalid(format!("the file could not be read: {e}")))?;
    match reader.format() {
        Some(ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP) => {}
        Some(other) => {
            return Err(invalid(format!(
                "{other:?} images are not accepted; send a JPEG, PNG or WebP"
            )));
        }
        None => return Err(invalid("this is not a JPEG, PNG or WebP image")),
    }
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    let mut reader = reader;
    reader.limits(limits);
    let decoder = reader
        .into_decoder()
        .map_err(|e| invalid(format!("the image is corrupt or over the size limits: {e}")))?;
    let (w, h) = decoder.dimensions();
    let pixels = u64::from(w) * u64::from(h);
    if pixels == 0 {
        return Err(invalid("the image has no pixels"));
    }
    if pixels > MAX_PIXELS {
        return Err(invalid(format!(
            "the image declares {w}×{h} = {} megapixels; the limit is {} (a decompression bomb?)",
            pixels / 1_000_000,
            MAX_PIXELS / 1_000_000
        )));
    }
    Ok(decoder)
}

/// Decodes `bytes` into upright pixels.
fn decode(bytes: &[u8]) -> Result<DynamicImage, PluginError> {
    let mut decoder = decoder(bytes)?;
    let orientation = decoder
        .orientation()
        .map_err(|e| invalid(format!("the image's orientation could not be read: {e}")))?;
    let mut image = DynamicImage::from_decoder(decoder)
        .map_err(|e| invalid(format!("the image is corrupt: {e}")))?;
    image.apply_orientation(orientation);
    Ok(image)
}

/// Opaque RGB of `image`, transparent areas flattened onto white.
fn flatten(image: &DynamicImage) -> RgbImage {
    if !image.color().has_alpha() {
        return image.to_rgb8();
    }
    let rgba = image.to_rgba8();
    RgbImage::from_fn(rgba.width(), rgba.height(), |x, y| {
        let [r, g, b, a] = rgba.get_pixel(x, y).0;
        let over_white =
            |c: u8| ((u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a))) / 255) as u8;
        image::Rgb([over_white(r), over_white(g), over_white(b)])
    })
}

/// The payload for an image file: pixels only, upright, downscaled, re-encoded as JPEG.
pub fn prepare(input: &[u8], encoding: Encoding) -> Result<Vec<u8>, PluginError> {
    let mut image = decode(input)?;
    if image.width().max(image.height()) > encoding.max_dimension {
        image = image.resize(
            encoding.max_dimension,
            encoding.max_dimension,
            FilterType::Triangle,
        );
    }
    let rgb = flatten(&image);
    let mut out = Vec::new();
    JpegEncoder::new_with_quality(&mut out, encoding.quality)
        .encode(
            rgb.as_raw(),
            rgb.width(),
            rgb.height(),
            ExtendedColorType::Rgb8,
        )
        .map_err(|e| PluginError::Internal(format!("encoding the JPEG failed: {e}")))?;
    Ok(out)
}

/// Names the first metadata segment of a JPEG before its image data, if there is one. APP0 (JFIF)
/// is the only application segment a payload may have.
fn metadata_segment(jpeg: &[u8]) -> Result<Option<&'static str>, PluginError> {
    if !jpeg.starts_with(&[0xFF, 0xD8]) {
        return Err(invalid("an image payload is a JPEG file"));
    }
    let mut at = 2;
    loop {
        let (Some(&0xFF), Some(&marker)) = (jpeg.get(at), jpeg.get(at + 1)) else {
            return Err(invalid("the JPEG's segments are malformed"));
        };
        if marker == 0xDA {
            return Ok(None); // start of scan: the pixels follow
        }
        match marker {
            0xE1 => return Ok(Some("APP1 (EXIF or XMP)")),
            0xE2 => return Ok(Some("APP2 (ICC profile or FlashPix)")),
            0xED => return Ok(Some("APP13 (IPTC)")),
            0xE3..=0xEF => return Ok(Some("an application segment")),
            0xFE => return Ok(Some("a comment")),
            _ => {}
        }
        let len = match (jpeg.get(at + 2), jpeg.get(at + 3)) {
            (Some(&hi), Some(&lo)) => usize::from(u16::from_be_bytes([hi, lo])),
            _ => return Err(invalid("the JPEG ends inside a segment header")),
        };
        if len < 2 {
            return Err(invalid("the JPEG has a segment of impossible length"));
        }
        at += 2 + len;
    }
}

/// Checks an incoming payload: a JPEG with no metadata that decodes within the limits.
pub fn validate(payload: &[u8]) -> Result<(), PluginError> {
    if payload.len() as u64 > MAX_PAYLOAD_BYTES {
        return Err(PluginError::TooLarge(MAX_PAYLOAD_BYTES));
    }
    if let Some(segment) = metadata_segment(payload)? {
        return Err(invalid(format!(
            "the image carries metadata ({segment}); it is refused"
        )));
    }
    decode(payload).map(drop)
}

/// "image 2048×1536, 312 KB".
pub fn summary(payload: &[u8]) -> Result<String, PluginError> {
    let (w, h) = decoder(payload)?.dimensions();
    Ok(format!("image {w}×{h}, {}", size(payload.len())))
}

fn size(bytes: usize) -> String {
    if bytes >= 1 << 20 {
        format!("{:.1} MB", bytes as f64 / f64::from(1 << 20))
    } else {
        format!("{} KB", bytes.div_ceil(1024))
    }
}

/// The plugin.
pub struct Image;

impl ContentType for Image {
    const NAME: &'static str = CONTENT_TYPE;
    const MAX_INPUT_BYTES: u64 = MAX_INPUT_BYTES;
    const MAX_PAYLOAD_BYTES: u64 = MAX_PAYLOAD_BYTES;
    const SETTINGS: &'static [&'static str] = &["max-dimension", "quality"];

    fn check_settings(settings: &[Setting]) -> Result<(), PluginError> {
        only_keys(settings, Self::SETTINGS).map_err(PluginError::InvalidInput)?;
        Encoding::from_options(settings).map(drop)
    }

    fn prepare(input: &[u8], options: &[Setting]) -> Result<Vec<u8>, PluginError> {
        prepare(input, Encoding::from_options(options)?)
    }

    fn validate(payload: &[u8]) -> Result<(), PluginError> {
        validate(payload)
    }

    fn summary(payload: &[u8]) -> Result<String, PluginError> {
        summary(payload)
    }
}

/// The plugin's exports.
pub type Plugin = Exports<Image>;

courier_plugin::export_message_type!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;

    const GPS_JPEG: &[u8] = include_bytes!("../tests/fixtures/gps.jpg");
    const GPS_WEBP: &[u8] = include_bytes!("../tests/fixtures/gps.webp");
    const HIDDEN_ALPHA_PNG: &[u8] = include_bytes!("../tests/fixtures/hidden-alpha.png");

    fn exif(bytes: &[u8]) -> Result<exif::Exif, exif::Error> {
        exif::Reader::new().read_from_container(&mut Cursor::new(bytes))
    }

    fn default_encoding() -> Encoding {
        Encoding::from_options::<(&str, &str)>(&[]).unwrap()
    }

    fn dimensions(jpeg: &[u8]) -> (u32, u32) {
        decoder(jpeg).unwrap().dimensions()
    }

    #[test]
    fn a_photo_with_gps_exif_comes_out_with_no_metadata_at_all() {
        // The fixture (made with exiftool) carries GPS, a camera serial, XMP, IPTC, a comment and
        // a thumbnail; check the reader sees them, so the test below is not vacuous.
        let before = exif(GPS_JPEG).expect("the fixture has EXIF");
        assert!(
            before
                .get_field(exif::Tag::GPSLatitude, exif::In::PRIMARY)
                .is_some()
        );
        assert!(metadata_segment(GPS_JPEG).unwrap().is_some());

        let out = prepare(GPS_JPEG, default_encoding()).unwrap();
        assert!(
            matches!(exif(&out), Err(exif::Error::NotFound(_))),
            "no EXIF block at all: {:?}",
            exif(&out).map(|e| e.fields().count())
        );
        assert_eq!(
            metadata_segment(&out).unwrap(),
            None,
            "no APPn but JFIF, no comment"
        );
        validate(&out).unwrap();
        // Orientation 6 (rotate 90° clockwise) was applied to the pixels before it was dropped.
        assert_eq!(dimensions(&out), (240, 320));
    }

    #[test]
    fn webp_with_exif_is_re_encoded_without_it() {
        assert!(exif(GPS_WEBP).is_ok(), "the fixture has EXIF");
        let out = prepare(GPS_WEBP, default_encoding()).unwrap();
        assert!(matches!(exif(&out), Err(exif::Error::NotFound(_))));
        assert_eq!(dimensions(&out), (320, 240));
    }

    #[test]
    fn colours_hidden_under_zero_alpha_do_not_travel() {
        // The left half of the PNG is red at alpha 0, the right half opaque green; its text chunks
        // name an author and a place.
        let out = prepare(HIDDEN_ALPHA_PNG, default_encoding()).unwrap();
        let image = decode(&out).unwrap().to_rgb8();
        let [r, g, b] = image.get_pixel(4, 24).0;
        assert!(
            r > 240 && g > 240 && b > 240,
            "flattened onto white, got {r},{g},{b}"
        );
        let [r, g, _] = image.get_pixel(60, 24).0;
        assert!(g > 150 && r < 60, "the opaque half keeps its colour");
        assert_eq!(metadata_segment(&out).unwrap(), None);
    }

    #[test]
    fn large_images_are_downscaled_keeping_their_shape() {
        let options = [("max-dimension", "100"), ("quality", "60")];
        let out = prepare(GPS_WEBP, Encoding::from_options(&options).unwrap()).unwrap();
        assert_eq!(dimensions(&out), (100, 75));
        assert!(Encoding::from_options(&[("quality", "0")]).is_err());
        assert!(Encoding::from_options(&[("max-dimension", "9")]).is_err());
    }

    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xEDB8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }

    /// A PNG whose header claims `w`×`h` and whose one data chunk is a few bytes of zlib.
    fn png_claiming(w: u32, h: u32) -> Vec<u8> {
        let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut chunk = |kind: &[u8], data: &[u8]| {
            png.extend((data.len() as u32).to_be_bytes());
            let mut body = kind.to_vec();
            body.extend(data);
            png.extend(&body);
            png.extend(crc32(&body).to_be_bytes());
        };
        let mut ihdr = Vec::new();
        ihdr.extend(w.to_be_bytes());
        ihdr.extend(h.to_be_bytes());
        ihdr.extend([8, 2, 0, 0, 0]);
        chunk(b"IHDR", &ihdr);
        chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
        chunk(b"IEND", &[]);
        png
    }

    #[test]
    fn decompression_bombs_are_refused_before_decoding() {
        let err = prepare(&png_claiming(10_000, 10_000), default_encoding()).unwrap_err();
        assert!(
            matches!(&err, PluginError::InvalidInput(m) if m.contains("100 megapixels") && m.contains("bomb")),
            "{err:?}"
        );
        let err = prepare(&png_claiming(100_000, 10), default_encoding()).unwrap_err();
        assert!(
            matches!(&err, PluginError::InvalidInput(m) if m.contains("size limits")),
            "{err:?}"
        );
    }

    #[test]
    fn corrupt_and_foreign_files_get_a_clear_error() {
        // Cut inside the headers; a file cut inside its scan data decodes partially, as in viewers.
        let truncated = &GPS_JPEG[..200];
        assert!(matches!(
            prepare(truncated, default_encoding()),
            Err(PluginError::InvalidInput(_))
        ));
        let err = prepare(b"GIF89a\x01\x00\x01\x00", default_encoding()).unwrap_err();
        assert!(
            matches!(&err, PluginError::InvalidInput(m) if m.contains("Gif")),
            "{err:?}"
        );
        let err = prepare(b"hello", default_encoding()).unwrap_err();
        assert!(
            matches!(&err, PluginError::InvalidInput(m) if m.contains("not a JPEG")),
            "{err:?}"
        );
        assert!(validate(&[0xFF, 0xD8, 0xFF]).is_err());
        assert!(validate(&[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x00]).is_err());
    }

    #[test]
    fn incoming_images_with_metadata_are_refused_and_summaries_say_size() {
        let err = validate(GPS_JPEG).unwrap_err();
        assert!(
            matches!(&err, PluginError::InvalidInput(m) if m.contains("APP1")),
            "{err:?}"
        );
        let out = prepare(GPS_JPEG, default_encoding()).unwrap();
        let summary = summary(&out).unwrap();
        assert!(
            summary.starts_with("image 240×320, ") && summary.ends_with(" KB"),
            "{summary}"
        );
    }
}
