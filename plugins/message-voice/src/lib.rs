//! The `courier/voice` message type: a voice note, stored compactly, optionally disguised.
//!
//! `prepare` takes a WAV recording (PCM 8-32 bit or float, any rate from 8 to 192 kHz, any number of
//! channels), mixes it to mono, resamples it to 16 kHz and stores it as IMA ADPCM: 4 bits a sample,
//! about 487 KB a minute ([`BYTES_PER_MINUTE`]), a quarter of 16-bit PCM. With the option
//! `distort = true` (a profile sets it; the CLI's `--distort` too) the pitch moves by `pitch`
//! (default 0.65, allowed 0.5-0.8; Anonomi uses 0.58-0.73) and the formants independently by `formant`
//! (default 0.85), see [`distortion`]. Nothing of the input file's other chunks (names, dates,
//! software) is kept.
//!
//! The payload (version 1) is a bare IMA ADPCM WAV file, playable as is once saved. Compressed input
//! formats (Opus, MP3) are not read: no pure-Rust decoder was added to the plugin yet.

pub mod adpcm;
pub mod distortion;
pub mod resampling;
pub mod wav;

use courier_plugin::content_type::{ContentType, Exports};
use courier_plugin::message_type::courier::plugin::types::{PluginError, Setting};
use courier_plugin::settings::{only_keys, parse_or};
use distortion::Distortion;

/// Content type name this plugin owns.
pub const CONTENT_TYPE: &str = "courier/voice";
/// Longest voice note, in seconds.
pub const MAX_SECONDS: u32 = 5 * 60;
/// Shortest voice note, in samples at 16 kHz (a tenth of a second).
const MIN_SAMPLES: usize = 1_600;
/// Payload bytes per minute of voice.
pub const BYTES_PER_MINUTE: u64 =
    (60 * wav::RATE as u64).div_ceil(adpcm::SAMPLES_PER_BLOCK as u64) * adpcm::BLOCK_BYTES as u64;
/// Largest payload: the longest note plus its header.
pub const MAX_PAYLOAD_BYTES: u64 = BYTES_PER_MINUTE * (MAX_SECONDS as u64 / 60) + 4096;
/// Largest input: five minutes of 48 kHz 16-bit stereo, with room to spare.
pub const MAX_INPUT_BYTES: u64 = 64 << 20;

fn invalid(message: impl Into<String>) -> PluginError {
    PluginError::InvalidInput(message.into())
}

/// Reads `distort`, `pitch` and `formant`; `None` when distortion is off.
pub fn distortion_from_options<S: courier_plugin::settings::Setting>(
    options: &[S],
) -> Result<Option<Distortion>, PluginError> {
    let on: bool = parse_or(options, "distort", false).map_err(PluginError::InvalidInput)?;
    // Checked even when off: `--distort` on the command line turns them on later.
    let pitch: f32 = parse_or(options, "pitch", 0.65).map_err(PluginError::InvalidInput)?;
    if !(0.5..=0.8).contains(&pitch) {
        return Err(invalid(
            "pitch is a factor from 0.5 to 0.8; nearer 1 would not disguise the voice",
        ));
    }
    let formant: f32 = parse_or(options, "formant", 0.85).map_err(PluginError::InvalidInput)?;
    if !(0.7..=1.3).contains(&formant) {
        return Err(invalid("formant is a factor from 0.7 to 1.3"));
    }
    Ok(on.then_some(Distortion { pitch, formant }))
}

/// The payload for a WAV recording.
pub fn prepare(input: &[u8], distortion: Option<Distortion>) -> Result<Vec<u8>, PluginError> {
    let recording = wav::read(input, MAX_SECONDS).map_err(invalid)?;
    let mut samples = resampling::resample(&recording.samples, recording.rate, wav::RATE);
    if samples.len() < MIN_SAMPLES {
        return Err(invalid("the recording is shorter than a tenth of a second"));
    }
    if let Some(distortion) = distortion {
        samples = distortion::distort(&samples, distortion);
    }
    // Leave a little headroom, then quantise.
    let peak = samples.iter().fold(0.0f32, |m, s| m.max(s.abs()));
    let gain = if peak > 0.98 { 0.98 / peak } else { 1.0 };
    let pcm: Vec<i16> = samples
        .iter()
        .map(|s| (s * gain * f32::from(i16::MAX)).round() as i16)
        .collect();
    Ok(wav::write_adpcm(&adpcm::encode(&pcm), pcm.len() as u32))
}

/// Checks an incoming payload: the exact container `prepare` writes, every block decodable.
pub fn validate(payload: &[u8]) -> Result<(), PluginError> {
    if payload.len() as u64 > MAX_PAYLOAD_BYTES {
        return Err(PluginError::TooLarge(MAX_PAYLOAD_BYTES));
    }
    let parsed = wav::parse_adpcm(payload).map_err(invalid)?;
    adpcm::decode(parsed.data)
        .map_err(|bad| invalid(format!("block {} of the voice note is damaged", bad.0)))?;
    Ok(())
}

/// The payload's samples at 16 kHz, for tests and players.
pub fn decode(payload: &[u8]) -> Result<Vec<i16>, PluginError> {
    let parsed = wav::parse_adpcm(payload).map_err(invalid)?;
    let mut samples = adpcm::decode(parsed.data)
        .map_err(|bad| invalid(format!("block {} of the voice note is damaged", bad.0)))?;
    samples.truncate(parsed.sample_count as usize);
    Ok(samples)
}

/// "voice message, 1:05".
pub fn summary(payload: &[u8]) -> Result<String, PluginError> {
    let parsed = wav::parse_adpcm(payload).map_err(invalid)?;
    let seconds = parsed.sample_count.div_ceil(wav::RATE);
    Ok(format!(
        "voice message, {}:{:02}",
        seconds / 60,
        seconds % 60
    ))
}

/// The plugin.
pub struct Voice;

impl ContentType for Voice {
    const NAME: &'static str = CONTENT_TYPE;
    const MAX_INPUT_BYTES: u64 = MAX_INPUT_BYTES;
    const MAX_PAYLOAD_BYTES: u64 = MAX_PAYLOAD_BYTES;
    const SETTINGS: &'static [&'static str] = &["distort", "pitch", "formant"];

    fn check_settings(settings: &[Setting]) -> Result<(), PluginError> {
        only_keys(settings, Self::SETTINGS).map_err(PluginError::InvalidInput)?;
        distortion_from_options(settings).map(drop)
    }

    fn prepare(input: &[u8], options: &[Setting]) -> Result<Vec<u8>, PluginError> {
        prepare(input, distortion_from_options(options)?)
    }

    fn validate(payload: &[u8]) -> Result<(), PluginError> {
        validate(payload)
    }

    fn summary(payload: &[u8]) -> Result<String, PluginError> {
        summary(payload)
    }
}

/// The plugin's exports.
pub type Plugin = Exports<Voice>;

courier_plugin::export_message_type!(Plugin);

#[cfg(test)]
mod tests {
    use super::*;

    /// `espeak-ng -v en -s 150 -w espeak.wav "Meet me at the north gate at nine. Bring the documents."`
    const ESPEAK: &[u8] = include_bytes!("../tests/fixtures/espeak.wav");

    /// Median fundamental frequency of the voiced 40 ms frames of 16 kHz `samples`, by normalised
    /// autocorrelation over 50-400 Hz.
    fn median_f0(samples: &[i16]) -> f32 {
        let x: Vec<f32> = samples.iter().map(|&s| f32::from(s)).collect();
        let frame = 640;
        let loudest = x.iter().fold(0.0f32, |m, s| m.max(s.abs()));
        let mut estimates = Vec::new();
        for start in (0..x.len().saturating_sub(frame * 2)).step_by(frame / 2) {
            let a = &x[start..start + frame];
            let energy: f32 = a.iter().map(|v| v * v).sum();
            if energy.sqrt() / (frame as f32).sqrt() < loudest * 0.05 {
                continue; // silence
            }
            let (lag, clarity) = (40..=320)
                .map(|lag| {
                    let b = &x[start + lag..start + lag + frame];
                    let dot: f32 = a.iter().zip(b).map(|(p, q)| p * q).sum();
                    let eb: f32 = b.iter().map(|v| v * v).sum();
                    (lag, dot / (energy * eb).sqrt().max(1.0))
                })
                .fold((0, 0.0), |best, c| if c.1 > best.1 { c } else { best });
            if clarity > 0.6 {
                estimates.push(16_000.0 / lag as f32);
            }
        }
        assert!(
            estimates.len() > 20,
            "enough voiced frames: {}",
            estimates.len()
        );
        estimates.sort_by(f32::total_cmp);
        estimates[estimates.len() / 2]
    }

    #[test]
    fn distortion_lowers_the_fundamental_frequency_of_a_real_voice() {
        let plain = decode(&prepare(ESPEAK, None).unwrap()).unwrap();
        let options = [("distort", "true")];
        let disguised =
            decode(&prepare(ESPEAK, distortion_from_options(&options).unwrap()).unwrap()).unwrap();
        let (before, after) = (median_f0(&plain), median_f0(&disguised));
        let ratio = after / before;
        eprintln!("F0 {before:.0} Hz -> {after:.0} Hz");
        assert!(
            (0.55..=0.75).contains(&ratio),
            "F0 {before:.0} Hz -> {after:.0} Hz, ratio {ratio:.2} (asked 0.65)"
        );
        assert_eq!(plain.len(), disguised.len(), "the duration is kept");
    }

    /// Mean spectral centroid of 1024-sample frames, in Hz: where the formants put the energy.
    fn centroid(samples: &[f32]) -> f32 {
        let mut planner = rustfft::FftPlanner::new();
        let fft = planner.plan_fft_forward(1024);
        let (mut weighted, mut total) = (0.0, 0.0);
        for frame in samples.chunks_exact(1024) {
            let mut spectrum: Vec<_> = frame
                .iter()
                .map(|&x| rustfft::num_complex::Complex32::new(x, 0.0))
                .collect();
            fft.process(&mut spectrum);
            for (k, c) in spectrum[..512].iter().enumerate() {
                weighted += k as f32 * c.norm();
                total += c.norm();
            }
        }
        weighted / total * 16_000.0 / 1024.0
    }

    #[test]
    fn the_formant_warp_moves_the_voice_s_resonances_on_its_own() {
        let recording = wav::read(ESPEAK, MAX_SECONDS).unwrap();
        let voice = resampling::resample(&recording.samples, recording.rate, wav::RATE);
        let pitch_only = distortion::distort(
            &voice,
            Distortion {
                pitch: 0.65,
                formant: 1.0,
            },
        );
        let warped = distortion::distort(
            &voice,
            Distortion {
                pitch: 0.65,
                formant: 0.85,
            },
        );
        let (kept, moved) = (centroid(&pitch_only), centroid(&warped));
        let ratio = moved / kept;
        assert!(
            (0.75..=0.95).contains(&ratio),
            "centroid {kept:.0} Hz -> {moved:.0} Hz"
        );
        // With the formants kept, the pitch change alone leaves the resonances where they were.
        let original = centroid(&voice);
        assert!(
            (kept / original - 1.0).abs() < 0.12,
            "{original:.0} Hz vs {kept:.0} Hz"
        );
    }

    #[test]
    fn a_recording_is_resampled_to_compact_adpcm_and_reads_back() {
        let payload = prepare(ESPEAK, None).unwrap();
        validate(&payload).unwrap();
        // 4.12 s of 22.05 kHz 16-bit input, 16 kHz at 4 bits out.
        let samples = decode(&payload).unwrap();
        assert_eq!(samples.len(), 65_911);
        assert!(payload.len() < ESPEAK.len() / 5, "{} bytes", payload.len());
        assert_eq!(summary(&payload).unwrap(), "voice message, 0:05");
        assert_eq!(BYTES_PER_MINUTE, 486_656);
    }

    #[test]
    fn bad_input_and_options_get_clear_errors() {
        assert!(
            matches!(prepare(b"RIFF\0\0\0\0WAVE", None), Err(PluginError::InvalidInput(m)) if m.contains("WAV"))
        );
        assert!(distortion_from_options(&[("distort", "true"), ("pitch", "0.95")]).is_err());
        assert!(distortion_from_options(&[("distort", "maybe")]).is_err());
        assert_eq!(distortion_from_options(&[("pitch", "0.6")]).unwrap(), None);
        let mut payload = prepare(ESPEAK, None).unwrap();
        let len = payload.len();
        assert!(validate(&payload[..len - 10]).is_err(), "truncated");
        payload[60 + 2] = 200; // an impossible step index in the first block
        assert!(
            matches!(validate(&payload), Err(PluginError::InvalidInput(m)) if m.contains("block 0"))
        );
        let mut tagged = prepare(ESPEAK, None).unwrap();
        tagged.extend(b"LIST\x04\0\0\0INFO");
        assert!(validate(&tagged).is_err(), "no chunk but fact and data");
    }
}
