//! A recording in any of the formats phones and recorders write: WAV (read by `wav`), Ogg Opus
//! (by `opus`), and MP3, M4A (AAC), FLAC and Ogg Vorbis (by `symphonia`), mixed to mono.

use std::io::Cursor;

use symphonia::core::audio::SampleBuffer;
use symphonia::core::codecs::{CODEC_TYPE_NULL, DecoderOptions};
use symphonia::core::errors::Error;
use symphonia::core::formats::FormatOptions;
use symphonia::core::io::MediaSourceStream;
use symphonia::core::meta::MetadataOptions;
use symphonia::core::probe::Hint;

use crate::opus;
use crate::wav::{self, Recording};

/// Reads `bytes`, refusing anything longer than `max_seconds`.
pub fn read(bytes: &[u8], max_seconds: u32) -> Result<Recording, String> {
    if bytes.starts_with(b"RIFF") {
        return wav::read(bytes, max_seconds);
    }
    if bytes.starts_with(b"OggS") && bytes.windows(8).take(64).any(|w| w == b"OpusHead") {
        let stream = opus::read(bytes)?;
        let seconds = stream.samples() / u64::from(opus::RATE);
        if seconds > u64::from(max_seconds) {
            return Err(too_long(seconds, max_seconds));
        }
        return Ok(Recording {
            samples: opus::decode(&stream)?,
            rate: opus::RATE,
        });
    }
    decoded(bytes, max_seconds)
}

fn too_long(seconds: u64, max_seconds: u32) -> String {
    format!("the recording is {seconds} s long; the limit is {max_seconds} s")
}

/// Any other format symphonia reads: its first audio track, mixed to mono.
fn decoded(bytes: &[u8], max_seconds: u32) -> Result<Recording, String> {
    let unreadable = |e: Error| {
        format!("this is not a recording this plugin reads (WAV, Ogg Opus, MP3, M4A, FLAC): {e}")
    };
    let source = MediaSourceStream::new(Box::new(Cursor::new(bytes.to_vec())), Default::default());
    let probed = symphonia::default::get_probe()
        .format(
            &Hint::new(),
            source,
            &FormatOptions::default(),
            &MetadataOptions::default(),
        )
        .map_err(unreadable)?;
    let mut format = probed.format;
    let track = format
        .tracks()
        .iter()
        .find(|t| t.codec_params.codec != CODEC_TYPE_NULL)
        .ok_or("the file holds no audio")?;
    let (track_id, rate) = (track.id, track.codec_params.sample_rate);
    let rate = rate
        .filter(|r| (8_000..=192_000).contains(r))
        .ok_or("the recording's sample rate is missing or outside 8 to 192 kHz")?;
    let mut decoder = symphonia::default::get_codecs()
        .make(&track.codec_params, &DecoderOptions::default())
        .map_err(unreadable)?;
    let most = u64::from(max_seconds + 1) * u64::from(rate);
    let mut samples = Vec::new();
    loop {
        let packet = match format.next_packet() {
            Ok(packet) => packet,
            Err(Error::IoError(e)) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) => return Err(unreadable(e)),
        };
        if packet.track_id() != track_id {
            continue;
        }
        let audio = match decoder.decode(&packet) {
            Ok(audio) => audio,
            // A damaged frame is skipped, as a player would.
            Err(Error::DecodeError(_)) => continue,
            Err(e) => return Err(unreadable(e)),
        };
        let spec = *audio.spec();
        let channels = spec.channels.count().max(1);
        let mut buffer = SampleBuffer::<f32>::new(audio.capacity() as u64, spec);
        buffer.copy_interleaved_ref(audio);
        samples.extend(
            buffer
                .samples()
                .chunks_exact(channels)
                .map(|frame| frame.iter().sum::<f32>() / channels as f32),
        );
        if samples.len() as u64 > most {
            return Err(too_long(
                samples.len() as u64 / u64::from(rate),
                max_seconds,
            ));
        }
    }
    if samples.is_empty() {
        return Err("the file holds no audio".into());
    }
    Ok(Recording { samples, rate })
}
