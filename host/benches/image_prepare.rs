//! `prepare` of a 12-megapixel JPEG (decode, downscale to 2048 px, re-encode without metadata) inside
//! the wasm image plugin, loaded by wasmtime with the limits a profile gives it, next to the same code
//! compiled natively (which may use AVX2 where the plugin has wasm SIMD). Target: wasm ≤ 1.5× native.
//! Prints medians of alternating runs; asserts nothing but that both give the same bytes.
//!
//! Needs `cargo xtask build-plugins` first (`cargo xtask bench` does it).

use std::path::Path;
use std::time::{Duration, Instant};

use courier_config::Config;
use courier_plugin_host::PluginHost;
use image::codecs::jpeg::JpegEncoder;
use image::{ExtendedColorType, RgbImage};
use message_image::Encoding;

const WIDTH: u32 = 4000;
const HEIGHT: u32 = 3000;
const RUNS: usize = 7;

/// A 12 MP photo-like JPEG: smooth light with fine texture, so the decoder has real work to do.
fn photo() -> Vec<u8> {
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let pixels = RgbImage::from_fn(WIDTH, HEIGHT, |x, y| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let grain = (seed & 31) as u32;
        let (fx, fy) = (x as f32 / WIDTH as f32, y as f32 / HEIGHT as f32);
        let light = ((fx * 9.0).sin() * (fy * 7.0).cos() * 60.0 + 120.0) as u32;
        image::Rgb([
            (light + grain).min(255) as u8,
            ((fy * 200.0) as u32 + grain).min(255) as u8,
            ((fx * 180.0) as u32 + grain / 2).min(255) as u8,
        ])
    });
    let mut jpeg = Vec::new();
    JpegEncoder::new_with_quality(&mut jpeg, 90)
        .encode(pixels.as_raw(), WIDTH, HEIGHT, ExtendedColorType::Rgb8)
        .unwrap();
    jpeg
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let jpeg = photo();
    println!(
        "image/prepare: a {WIDTH}x{HEIGHT} JPEG of {:.1} MB, downscaled to 2048 px, {RUNS} runs each",
        jpeg.len() as f64 / 1e6
    );

    let encoding = Encoding {
        max_dimension: 2048,
        quality: 82,
    };
    let plugins = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugins");
    let text = format!(
        "[plugins]\ndir = {:?}\n[message_types.image]\nplugin = \"image\"\ngrant = [\"log\"]\n\
         limits = {{ memory_mib = 512, fuel_per_call = 100_000_000_000 }}\n",
        plugins.display().to_string()
    );
    let config = Config::parse(&text, "bench", Path::new(".")).unwrap();
    let mut host =
        PluginHost::load(&config).expect("the image plugin loads (run `cargo xtask bench`)");
    let plugin = host
        .message_type("courier/image")
        .expect("the image plugin is loaded");
    let options = [
        ("max-dimension".to_owned(), "2048".to_owned()),
        ("quality".to_owned(), "82".to_owned()),
    ];
    // Alternate the two so that whatever else the machine does slows both alike.
    let (mut native, mut wasm) = (Vec::new(), Vec::new());
    let (mut native_out, mut wasm_out) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let started = Instant::now();
        native_out = message_image::prepare(&jpeg, encoding).unwrap();
        native.push(started.elapsed());
        let started = Instant::now();
        wasm_out = plugin.prepare(&jpeg, &options, 1).unwrap();
        wasm.push(started.elapsed());
    }
    let (native, wasm) = (median(native), median(wasm));
    assert_eq!(
        wasm_out, native_out,
        "the plugin and the native build agree byte for byte"
    );

    let ratio = wasm.as_secs_f64() / native.as_secs_f64();
    println!(
        "image/prepare: native {:.0} ms, wasm {:.0} ms (fuel metered); wasm/native {ratio:.2}x (target <= 1.5x): {}",
        native.as_secs_f64() * 1e3,
        wasm.as_secs_f64() * 1e3,
        if ratio <= 1.5 { "met" } else { "NOT met" }
    );
}
