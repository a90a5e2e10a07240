//! `prepare` of 30 seconds of speech (the espeak fixture, said seven times and a bit) as an Ogg
//! Opus voice note inside the wasm voice plugin, loaded by wasmtime with the limits a profile
//! gives it, next to the same code compiled natively. Prints the note's bytes per second of
//! speech beside the old ADPCM note's, and the encode time as a share of the speech's own length
//! (real time). Asserts nothing but that the plugin's note reads and is the native one's size.
//!
//! Needs `cargo xtask build-plugins` first (`cargo xtask bench` does it).

use std::io::Cursor;
use std::path::Path;
use std::time::{Duration, Instant};

use courier_config::Config;
use courier_plugin_host::PluginHost;

const SECONDS: u32 = 30;
const RUNS: usize = 5;

/// Thirty seconds of the fixture's voice, as a 16-bit WAV at its own rate.
fn speech() -> Vec<u8> {
    let fixture = include_bytes!("../../plugins/message-voice/tests/fixtures/espeak.wav");
    let mut reader = hound::WavReader::new(Cursor::new(&fixture[..])).unwrap();
    let spec = reader.spec();
    let said: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    let mut out = Cursor::new(Vec::new());
    let mut writer = hound::WavWriter::new(&mut out, spec).unwrap();
    let wanted = (SECONDS * spec.sample_rate) as usize * usize::from(spec.channels);
    for s in said.iter().cycle().take(wanted) {
        writer.write_sample(*s).unwrap();
    }
    writer.finalize().unwrap();
    out.into_inner()
}

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let wav = speech();
    let plugins = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/plugins");
    let text = format!(
        "[plugins]\ndir = {:?}\n[message_types.voice]\nplugin = \"voice\"\ngrant = [\"log\"]\n\
         limits = {{ memory_mib = 512, fuel_per_call = 100_000_000_000 }}\n",
        plugins.display().to_string()
    );
    let config = Config::parse(&text, "bench", Path::new(".")).unwrap();
    let mut host =
        PluginHost::load(&config).expect("the voice plugin loads (run `cargo xtask bench`)");
    let plugin = host
        .message_type("courier/voice")
        .expect("the voice plugin is loaded");
    let (mut native, mut wasm) = (Vec::new(), Vec::new());
    let (mut native_out, mut wasm_out) = (Vec::new(), Vec::new());
    for _ in 0..RUNS {
        let started = Instant::now();
        native_out = message_voice::prepare(&wav, None, message_voice::OPUS).unwrap();
        native.push(started.elapsed());
        let started = Instant::now();
        wasm_out = plugin.prepare(&wav, &[], message_voice::OPUS).unwrap();
        wasm.push(started.elapsed());
    }
    // Not byte for byte: the native encoder takes x86 SIMD paths whose float rounding differs.
    message_voice::validate(&wasm_out, message_voice::OPUS).expect("the plugin's note reads");
    let apart = (wasm_out.len() as f64 / native_out.len() as f64 - 1.0).abs();
    assert!(
        apart < 0.05,
        "{} vs {} bytes",
        wasm_out.len(),
        native_out.len()
    );
    let adpcm = message_voice::prepare(&wav, None, message_voice::ADPCM).unwrap();
    let (native, wasm) = (median(native), median(wasm));
    let per_second = |bytes: usize| bytes as f64 / f64::from(SECONDS);
    println!(
        "voice/prepare: {SECONDS} s of speech ({:.0} KB WAV): Opus note {} bytes, {:.0} bytes a second \
         ({:.1} kbit/s); the ADPCM note {:.0} bytes a second; Opus/ADPCM {:.2} (target <= 0.33): {}",
        wav.len() as f64 / 1e3,
        wasm_out.len(),
        per_second(wasm_out.len()),
        per_second(wasm_out.len()) * 8.0 / 1e3,
        per_second(adpcm.len()),
        wasm_out.len() as f64 / adpcm.len() as f64,
        if wasm_out.len() * 3 <= adpcm.len() {
            "met"
        } else {
            "NOT met"
        }
    );
    println!(
        "voice/prepare: decode, resample and encode inside wasm {:.0} ms = {:.1}% of real time \
         (native {:.0} ms = {:.1}%), median of {RUNS}",
        wasm.as_secs_f64() * 1e3,
        wasm.as_secs_f64() * 100.0 / f64::from(SECONDS),
        native.as_secs_f64() * 1e3,
        native.as_secs_f64() * 100.0 / f64::from(SECONDS),
    );
}
