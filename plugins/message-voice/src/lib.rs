//! The `courier/voice` message type: a voice note, stored compactly, optionally disguised.
//!
//! `prepare` takes a recording ([`input`]: WAV, PCM 8-32 bit or float; Ogg Opus; MP3; M4A (AAC);
//! FLAC; any rate from 8 to 192 kHz, any number of channels), mixes it to mono, resamples it to
//! 16 kHz and stores it (version 2) as Opus in an Ogg file at 16 kbit/s ([`opus`]): about 120 KB a
//! minute, a quarter of version 1's IMA ADPCM WAV (4 bits a sample, about 487 KB a minute,
//! [`BYTES_PER_MINUTE`]), which it still reads, and writes for a peer who reads no newer. With the option
//! `distort = true` (a profile sets it; the CLI's `--distort` too) the pitch moves by `pitch`
//! (default 0.65, allowed 0.5-0.8; Anonomi uses 0.58-0.73) and the formants independently by `formant`
//! (default 0.85), see [`distortion`]. Nothing of the input file's other chunks (names, dates,
//! software) is kept.
//!
//! Either payload is a file that plays as is once saved: an Ogg Opus file (version 2, no tags but
//! the vendor's) or a bare IMA ADPCM WAV (version 1).

pub mod adpcm;
pub mod distortion;
pub mod input;
pub mod opus;
pub mod resampling;
pub mod wav;

use courier_plugin::content_type::{ContentType, Exports};
use courier_plugin::message_type::courier::plugin::types::{PluginError, Setting};
use courier_plugin::settings::{only_keys, parse_or};
use distortion::Distortion;

/// Content type name this plugin owns.
pub const CONTENT_TYPE: &str = "courier/voice";
/// The version that holds an IMA ADPCM WAV.
pub const ADPCM: u32 = 1;
/// The version that holds an Ogg Opus file.
pub const OPUS: u32 = 2;
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

/// The payload of `version` for a recording.
pub fn prepare(
    input: &[u8],
    distortion: Option<Distortion>,
    version: u32,
) -> Result<Vec<u8>, PluginError> {
    let recording = input::read(input, MAX_SECONDS).map_err(invalid)?;
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
    if version == OPUS {
        let scaled: Vec<f32> = samples.iter().map(|s| s * gain).collect();
        return opus::encode(&scaled).map_err(invalid);
    }
    let pcm: Vec<i16> = samples
        .iter()
        .map(|s| (s * gain * f32::from(i16::MAX)).round() as i16)
        .collect();
    Ok(wav::write_adpcm(&adpcm::encode(&pcm), pcm.len() as u32))
}

/// Checks an incoming payload of `version`: the container `prepare` writes, every block or packet
/// decodable, and no longer than [`MAX_SECONDS`].
pub fn validate(payload: &[u8], version: u32) -> Result<(), PluginError> {
    if payload.len() as u64 > MAX_PAYLOAD_BYTES {
        return Err(PluginError::TooLarge(MAX_PAYLOAD_BYTES));
    }
    if version == OPUS {
        let stream = opus::read(payload).map_err(invalid)?;
        if stream.channels != 1 || stream.samples() > u64::from(MAX_SECONDS * opus::RATE) {
            return Err(invalid("a voice note is mono and at most five minutes"));
        }
        return opus::decode(&stream).map(drop).map_err(invalid);
    }
    let parsed = wav::parse_adpcm(payload).map_err(invalid)?;
    adpcm::decode(parsed.data)
        .map_err(|bad| invalid(format!("block {} of the voice note is damaged", bad.0)))?;
    Ok(())
}

/// The samples at 16 kHz of a payload of `version`, for tests and players.
pub fn decode(payload: &[u8], version: u32) -> Result<Vec<i16>, PluginError> {
    if version == OPUS {
        let stream = opus::read(payload).map_err(invalid)?;
        let samples = opus::decode(&stream).map_err(invalid)?;
        return Ok(samples
            .iter()
            .map(|s| (s.clamp(-1.0, 1.0) * f32::from(i16::MAX)).round() as i16)
            .collect());
    }
    let parsed = wav::parse_adpcm(payload).map_err(invalid)?;
    let mut samples = adpcm::decode(parsed.data)
        .map_err(|bad| invalid(format!("block {} of the voice note is damaged", bad.0)))?;
    samples.truncate(parsed.sample_count as usize);
    Ok(samples)
}

/// "voice message, 1:05".
pub fn summary(payload: &[u8], version: u32) -> Result<String, PluginError> {
    let samples = if version == OPUS {
        opus::read(payload).map_err(invalid)?.samples()
    } else {
        u64::from(wav::parse_adpcm(payload).map_err(invalid)?.sample_count)
    };
    let seconds = samples.div_ceil(u64::from(wav::RATE));
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
    const VERSION: u32 = OPUS;
    const OLDEST_VERSION: u32 = ADPCM;
    const MAX_INPUT_BYTES: u64 = MAX_INPUT_BYTES;
    const MAX_PAYLOAD_BYTES: u64 = MAX_PAYLOAD_BYTES;
    const SETTINGS: &'static [&'static str] = &["distort", "pitch", "formant"];

    fn check_settings(settings: &[Setting]) -> Result<(), PluginError> {
        only_keys(settings, Self::SETTINGS).map_err(PluginError::InvalidInput)?;
        distortion_from_options(settings).map(drop)
    }

    fn prepare(input: &[u8], options: &[Setting]) -> Result<Vec<u8>, PluginError> {
        Self::prepare_in(input, options, OPUS)
    }

    fn validate(payload: &[u8]) -> Result<(), PluginError> {
        validate(payload, OPUS)
    }

    fn summary(payload: &[u8]) -> Result<String, PluginError> {
        summary(payload, OPUS)
    }

    fn prepare_in(input: &[u8], options: &[Setting], version: u32) -> Result<Vec<u8>, PluginError> {
        prepare(input, distortion_from_options(options)?, version)
    }

    fn validate_in(payload: &[u8], version: u32) -> Result<(), PluginError> {
        validate(payload, version)
    }

    fn summary_in(payload: &[u8], version: u32) -> Result<String, PluginError> {
        summary(payload, version)
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
        let plain = decode(&prepare(ESPEAK, None, ADPCM).unwrap(), ADPCM).unwrap();
        let options = [("distort", "true")];
        let disguised = decode(
            &prepare(ESPEAK, distortion_from_options(&options).unwrap(), ADPCM).unwrap(),
            ADPCM,
        )
        .unwrap();
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
        let payload = prepare(ESPEAK, None, ADPCM).unwrap();
        validate(&payload, ADPCM).unwrap();
        // 4.12 s of 22.05 kHz 16-bit input, 16 kHz at 4 bits out.
        let samples = decode(&payload, ADPCM).unwrap();
        assert_eq!(samples.len(), 65_911);
        assert!(payload.len() < ESPEAK.len() / 5, "{} bytes", payload.len());
        assert_eq!(summary(&payload, ADPCM).unwrap(), "voice message, 0:05");
        assert_eq!(BYTES_PER_MINUTE, 486_656);
    }

    #[test]
    fn bad_input_and_options_get_clear_errors() {
        assert!(
            matches!(prepare(b"RIFF\0\0\0\0WAVE", None, OPUS), Err(PluginError::InvalidInput(m)) if m.contains("WAV"))
        );
        assert!(distortion_from_options(&[("distort", "true"), ("pitch", "0.95")]).is_err());
        assert!(distortion_from_options(&[("distort", "maybe")]).is_err());
        assert_eq!(distortion_from_options(&[("pitch", "0.6")]).unwrap(), None);
        let mut payload = prepare(ESPEAK, None, ADPCM).unwrap();
        let len = payload.len();
        assert!(validate(&payload[..len - 10], ADPCM).is_err(), "truncated");
        payload[60 + 2] = 200; // an impossible step index in the first block
        assert!(
            matches!(validate(&payload, ADPCM), Err(PluginError::InvalidInput(m)) if m.contains("block 0"))
        );
        let mut tagged = prepare(ESPEAK, None, ADPCM).unwrap();
        tagged.extend(b"LIST\x04\0\0\0INFO");
        assert!(
            validate(&tagged, ADPCM).is_err(),
            "no chunk but fact and data"
        );
        // An ADPCM note is no Opus note, and the other way round.
        assert!(validate(&tagged, OPUS).is_err());
        let opus = prepare(ESPEAK, None, OPUS).unwrap();
        assert!(validate(&opus, ADPCM).is_err());
        assert!(
            validate(&opus[..opus.len() - 30], OPUS).is_err(),
            "truncated"
        );
        assert!(prepare(b"not audio at all", None, OPUS).is_err());
    }

    /// Short-time objective intelligibility, after STOI (Taal et al., 2011) without its clipping
    /// step: how well the envelopes of `degraded` follow those of `clean` in 15 one-third-octave
    /// bands from 150 Hz, over 30-frame (about half a second) segments of speech, from 0 to 1.
    fn intelligibility(clean: &[f32], degraded: &[f32]) -> f32 {
        const N: usize = 512;
        const HOP: usize = 256;
        const SEGMENT: usize = 30;
        let mut planner = rustfft::FftPlanner::new();
        let fft = planner.plan_fft_forward(N);
        let bands: Vec<(usize, usize)> = (0..15)
            .map(|k| {
                let centre = 150.0 * 2f32.powf(k as f32 / 3.0);
                let bin = |f: f32| (f * N as f32 / wav::RATE as f32).round() as usize;
                (
                    bin(centre * 2f32.powf(-1.0 / 6.0)),
                    bin(centre * 2f32.powf(1.0 / 6.0)).max(1),
                )
            })
            .collect();
        let envelopes = |x: &[f32]| -> Vec<(f32, Vec<f32>)> {
            x.windows(N)
                .step_by(HOP)
                .map(|frame| {
                    let mut spectrum: Vec<_> = frame
                        .iter()
                        .enumerate()
                        .map(|(i, &v)| {
                            let hann =
                                0.5 - 0.5 * (std::f32::consts::TAU * i as f32 / N as f32).cos();
                            rustfft::num_complex::Complex32::new(v * hann, 0.0)
                        })
                        .collect();
                    fft.process(&mut spectrum);
                    let energy = frame.iter().map(|v| v * v).sum::<f32>();
                    let bands = bands
                        .iter()
                        .map(|&(lo, hi)| {
                            spectrum[lo..hi.max(lo + 1)]
                                .iter()
                                .map(|c| c.norm_sqr())
                                .sum::<f32>()
                                .sqrt()
                        })
                        .collect();
                    (energy, bands)
                })
                .collect()
        };
        let (a, b) = (envelopes(clean), envelopes(degraded));
        // Speech only: frames within 40 dB of the loudest.
        let loudest = a.iter().fold(0.0f32, |m, (e, _)| m.max(*e));
        let speech: Vec<usize> = (0..a.len().min(b.len()))
            .filter(|&i| a[i].0 > loudest * 1e-4)
            .collect();
        let mut scores = Vec::new();
        for segment in speech.chunks_exact(SEGMENT) {
            for band in 0..bands.len() {
                let x: Vec<f32> = segment.iter().map(|&i| a[i].1[band]).collect();
                let y: Vec<f32> = segment.iter().map(|&i| b[i].1[band]).collect();
                let (mx, my) = (
                    x.iter().sum::<f32>() / SEGMENT as f32,
                    y.iter().sum::<f32>() / SEGMENT as f32,
                );
                let dot: f32 = x.iter().zip(&y).map(|(p, q)| (p - mx) * (q - my)).sum();
                let (ex, ey): (f32, f32) = (
                    x.iter().map(|p| (p - mx).powi(2)).sum(),
                    y.iter().map(|q| (q - my).powi(2)).sum(),
                );
                scores.push(dot / (ex * ey).sqrt().max(1e-9));
            }
        }
        scores.iter().sum::<f32>() / scores.len() as f32
    }

    /// The espeak recording as both versions start from it: mono, 16 kHz, as `prepare` scales it.
    fn reference() -> Vec<f32> {
        let recording = wav::read(ESPEAK, MAX_SECONDS).unwrap();
        resampling::resample(&recording.samples, recording.rate, wav::RATE)
    }

    fn as_f32(samples: &[i16]) -> Vec<f32> {
        samples.iter().map(|&s| f32::from(s) / 32768.0).collect()
    }

    #[test]
    fn an_opus_note_is_a_quarter_of_an_adpcm_note_and_as_intelligible() {
        let clean = reference();
        let adpcm = prepare(ESPEAK, None, ADPCM).unwrap();
        let opus = prepare(ESPEAK, None, OPUS).unwrap();
        validate(&opus, OPUS).unwrap();
        assert_eq!(summary(&opus, OPUS).unwrap(), "voice message, 0:05");
        let (from_adpcm, from_opus) = (
            as_f32(&decode(&adpcm, ADPCM).unwrap()),
            as_f32(&decode(&opus, OPUS).unwrap()),
        );
        assert_eq!(
            from_opus.len(),
            clean.len(),
            "the same length, to the sample"
        );
        let (a, o) = (
            intelligibility(&clean, &from_adpcm),
            intelligibility(&clean, &from_opus),
        );
        eprintln!(
            "{} bytes ADPCM, {} bytes Opus; intelligibility ADPCM {a:.3}, Opus {o:.3}",
            adpcm.len(),
            opus.len()
        );
        assert!(
            opus.len() * 3 <= adpcm.len(),
            "{} vs {}",
            opus.len(),
            adpcm.len()
        );
        assert!(o >= 0.9, "Opus {o:.3}");
        assert!(o >= a - 0.05, "Opus {o:.3} against ADPCM {a:.3}");
        // Noise in place of speech scores low: the measure tells speech from noise.
        let noise: Vec<f32> = (0..clean.len())
            .map(|i| ((i as u32).wrapping_mul(2_654_435_761) >> 16) as f32 / 65_536.0 - 0.5)
            .collect();
        assert!(intelligibility(&clean, &noise) < 0.3);
    }

    #[test]
    fn mp3_m4a_flac_and_another_encoder_s_stereo_opus_are_read_as_the_wav_is() {
        let clean = reference();
        let fixtures: [(&str, &[u8]); 4] = [
            ("MP3", include_bytes!("../tests/fixtures/espeak.mp3")),
            ("M4A", include_bytes!("../tests/fixtures/espeak.m4a")),
            ("FLAC", include_bytes!("../tests/fixtures/espeak.flac")),
            // libopus through ffmpeg, 48 kHz stereo: our decoder reads another encoder's stream.
            (
                "Opus",
                include_bytes!("../tests/fixtures/espeak-stereo.opus"),
            ),
        ];
        for (what, input) in fixtures {
            let note = prepare(input, None, OPUS).unwrap_or_else(|e| panic!("{what}: {e:?}"));
            let heard = as_f32(&decode(&note, OPUS).unwrap());
            // MP3 and AAC pad the start; find the lag where the note lines up with the WAV.
            let score = (0..2_400)
                .step_by(16)
                .map(|lag| intelligibility(&clean, heard.get(lag..).unwrap_or_default()))
                .fold(0.0f32, f32::max);
            eprintln!(
                "{what}: {} samples, intelligibility {score:.3}",
                heard.len()
            );
            if what == "FLAC" {
                // A second and a half of it.
                assert!((heard.len() as i64 - 24_000).abs() < 400, "{}", heard.len());
            } else {
                assert!(
                    (heard.len() as i64 - clean.len() as i64).abs() < 3_200,
                    "{what}: {}",
                    heard.len()
                );
                assert!(score > 0.8, "{what}: {score:.3}");
            }
        }
    }

    #[test]
    fn the_plugin_writes_opus_reads_both_versions_and_writes_adpcm_for_a_peer_who_reads_no_newer() {
        use courier_plugin::message_type::exports::courier::plugin::content::Guest;
        let versions = Plugin::describe().versions;
        assert_eq!((versions.min, versions.max), (ADPCM, OPUS));
        let opus = Plugin::prepare(ESPEAK.to_vec(), vec![], OPUS).unwrap();
        assert_eq!(&opus[..4], b"OggS");
        let adpcm = Plugin::prepare(ESPEAK.to_vec(), vec![], ADPCM).unwrap();
        assert_eq!(&adpcm[..4], b"RIFF");
        for (payload, version) in [(opus, OPUS), (adpcm, ADPCM)] {
            Plugin::validate(payload.clone(), version).unwrap();
            assert_eq!(
                Plugin::summary(payload, version).unwrap(),
                "voice message, 0:05"
            );
        }
        assert!(matches!(
            Plugin::validate(vec![], 3),
            Err(PluginError::UnsupportedVersion(3))
        ));
        assert!(matches!(
            Plugin::prepare(ESPEAK.to_vec(), vec![], 0),
            Err(PluginError::UnsupportedVersion(0))
        ));
    }
}
