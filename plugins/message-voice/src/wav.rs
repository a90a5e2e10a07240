//! WAV in and out: any PCM or float WAV a recorder writes comes in; a bare IMA ADPCM WAV (format,
//! sample count, data, and no other chunk: no names, dates or software tags) goes out.

use std::io::Cursor;

use crate::adpcm::{BLOCK_BYTES, SAMPLES_PER_BLOCK};

/// Sample rate of every payload.
pub const RATE: u32 = 16_000;
const IMA_ADPCM: u16 = 0x0011;

/// A recording as mono samples in -1..1.
#[derive(Debug, Clone, PartialEq)]
pub struct Recording {
    /// Samples, channels mixed down.
    pub samples: Vec<f32>,
    /// Samples per second.
    pub rate: u32,
}

/// Reads a PCM or float WAV file, refusing anything longer than `max_seconds`.
pub fn read(bytes: &[u8], max_seconds: u32) -> Result<Recording, String> {
    let reader = hound::WavReader::new(Cursor::new(bytes))
        .map_err(|e| format!("this is not a WAV recording this plugin reads: {e}"))?;
    let spec = reader.spec();
    if !(8_000..=192_000).contains(&spec.sample_rate) || spec.channels == 0 {
        return Err(format!(
            "a WAV of {} Hz with {} channels is not a recording",
            spec.sample_rate, spec.channels
        ));
    }
    let seconds = reader.duration() / spec.sample_rate;
    if seconds > max_seconds {
        return Err(format!(
            "the recording is {seconds} s long; the limit is {max_seconds} s"
        ));
    }
    let interleaved: Vec<f32> = match spec.sample_format {
        hound::SampleFormat::Float => reader
            .into_samples::<f32>()
            .collect::<Result<_, _>>()
            .map_err(|e| format!("the WAV's samples are damaged: {e}"))?,
        hound::SampleFormat::Int => {
            let scale = 1.0 / (1i64 << (spec.bits_per_sample - 1)) as f32;
            reader
                .into_samples::<i32>()
                .map(|s| s.map(|s| s as f32 * scale))
                .collect::<Result<_, _>>()
                .map_err(|e| format!("the WAV's samples are damaged: {e}"))?
        }
    };
    let channels = usize::from(spec.channels);
    let samples = interleaved
        .chunks_exact(channels)
        .map(|frame| frame.iter().sum::<f32>() / channels as f32)
        .collect();
    Ok(Recording {
        samples,
        rate: spec.sample_rate,
    })
}

/// A 16 kHz mono IMA ADPCM WAV file of `sample_count` samples whose blocks are `data`.
pub fn write_adpcm(data: &[u8], sample_count: u32) -> Vec<u8> {
    let byte_rate = (RATE as usize * BLOCK_BYTES / SAMPLES_PER_BLOCK) as u32;
    let mut out = Vec::with_capacity(60 + data.len());
    out.extend(b"RIFF");
    out.extend((4 + 28 + 12 + 8 + data.len() as u32).to_le_bytes());
    out.extend(b"WAVEfmt ");
    out.extend(20u32.to_le_bytes());
    out.extend(IMA_ADPCM.to_le_bytes());
    out.extend(1u16.to_le_bytes()); // mono
    out.extend(RATE.to_le_bytes());
    out.extend(byte_rate.to_le_bytes());
    out.extend((BLOCK_BYTES as u16).to_le_bytes());
    out.extend(4u16.to_le_bytes()); // bits per sample
    out.extend(2u16.to_le_bytes()); // extra bytes
    out.extend((SAMPLES_PER_BLOCK as u16).to_le_bytes());
    out.extend(b"fact");
    out.extend(4u32.to_le_bytes());
    out.extend(sample_count.to_le_bytes());
    out.extend(b"data");
    out.extend((data.len() as u32).to_le_bytes());
    out.extend(data);
    out
}

/// A payload's parts: the sample count and the ADPCM blocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Adpcm<'a> {
    /// Samples at [`RATE`].
    pub sample_count: u32,
    /// Whole blocks.
    pub data: &'a [u8],
}

/// Parses a payload written by [`write_adpcm`]; anything else (other formats, extra chunks that
/// could carry metadata) is refused.
pub fn parse_adpcm(bytes: &[u8]) -> Result<Adpcm<'_>, String> {
    let expected_fmt = &write_adpcm(&[], 0)[12..40];
    if bytes.len() < 60 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err("a voice payload is a WAV file".into());
    }
    if bytes[12..40] != *expected_fmt {
        return Err("a voice payload is 16 kHz mono IMA ADPCM in 256-byte blocks".into());
    }
    let riff_len = u32::from_le_bytes(bytes[4..8].try_into().unwrap_or_default()) as usize;
    if &bytes[40..48] != b"fact\x04\0\0\0" || &bytes[52..56] != b"data" {
        return Err("a voice payload has exactly a fact and a data chunk after its format".into());
    }
    let sample_count = u32::from_le_bytes(bytes[48..52].try_into().unwrap_or_default());
    let data_len = u32::from_le_bytes(bytes[56..60].try_into().unwrap_or_default()) as usize;
    let data = &bytes[60..];
    if data.len() != data_len || riff_len != bytes.len() - 8 {
        return Err(
            "a voice payload's chunk lengths do not match its size (other chunks are refused)"
                .into(),
        );
    }
    if !data_len.is_multiple_of(BLOCK_BYTES)
        || (sample_count as usize).div_ceil(SAMPLES_PER_BLOCK) != data_len / BLOCK_BYTES
    {
        return Err("a voice payload's sample count does not match its blocks".into());
    }
    Ok(Adpcm { sample_count, data })
}
