//! Voice notes in Opus (payload version 2): 16 kHz mono speech at [`BITRATE`], in an Ogg
//! container as RFC 7845 lays it out, so the saved file plays in any player. The encoder and
//! decoder are `opus-rs` (pure Rust, so the plugin builds for `wasm32-wasip2`); the pages are the
//! `ogg` crate's.

use std::io::Cursor;

use ogg::{PacketReader, PacketWriteEndInfo, PacketWriter};
use opus_rs::{Application, OpusDecoder, OpusEncoder};

/// The sample rate the encoder takes and the decoder gives.
pub const RATE: u32 = 16_000;
/// Bits a second the encoder aims at: speech stays clear, at a quarter of the ADPCM notes' size.
pub const BITRATE: i32 = 16_000;
/// Samples in one packet: 20 ms.
const FRAME: usize = 320;
/// The encoder's delay at 16 kHz (2.5 ms of analysis and 4 ms of compensation), in samples.
const LOOKAHEAD: usize = 104;
/// That delay at 48 kHz, where an Ogg Opus stream counts: what a player skips at the start.
const PRE_SKIP: u16 = (LOOKAHEAD * 3) as u16;
/// The longest packet an Opus stream can hold, in samples at 16 kHz (120 ms).
const MAX_PACKET_SAMPLES: usize = 1_920;
/// The stream's serial number. One stream a file, so a constant: a random one would only tell one
/// note from another.
const SERIAL: u32 = 1;

/// `samples` (mono, 16 kHz, within ±1) as an Ogg Opus file.
pub fn encode(samples: &[f32]) -> Result<Vec<u8>, String> {
    let mut encoder = OpusEncoder::new(RATE as i32, 1, Application::Voip)?;
    encoder.bitrate_bps = BITRATE;
    let mut pages = PacketWriter::new(Cursor::new(Vec::new()));
    let write = |pages: &mut PacketWriter<'_, Cursor<Vec<u8>>>, packet: Vec<u8>, end, granule| {
        pages
            .write_packet(packet, SERIAL, end, granule)
            .map_err(|e| e.to_string())
    };
    // Each header ends its own page, as RFC 7845 asks.
    write(&mut pages, head(1), PacketWriteEndInfo::EndPage, 0)?;
    write(&mut pages, tags(), PacketWriteEndInfo::EndPage, 0)?;
    // The encoder's delay in silence after the voice, so its last sample comes out; whole frames.
    let frames = (samples.len() + LOOKAHEAD).div_ceil(FRAME).max(1);
    let mut padded = samples.to_vec();
    padded.resize(frames * FRAME, 0.0);
    // The last page's position says where the voice ends, so a player drops the padding.
    let end = u64::from(PRE_SKIP) + samples.len() as u64 * 3;
    let mut packet = vec![0u8; 1_276];
    for (i, frame) in padded.chunks_exact(FRAME).enumerate() {
        let len = encoder.encode(frame, FRAME, &mut packet)?;
        let last = i + 1 == frames;
        let (info, granule) = if last {
            (PacketWriteEndInfo::EndStream, end)
        } else {
            (PacketWriteEndInfo::NormalPacket, (i as u64 + 1) * 960)
        };
        write(&mut pages, packet[..len].to_vec(), info, granule)?;
    }
    Ok(pages.into_inner().into_inner())
}

/// The identification header of a stream of `channels` channels.
fn head(channels: u8) -> Vec<u8> {
    let mut head = b"OpusHead".to_vec();
    head.extend([1, channels]);
    head.extend(PRE_SKIP.to_le_bytes());
    head.extend(RATE.to_le_bytes());
    head.extend(0i16.to_le_bytes()); // output gain
    head.push(0); // channel mapping family 0: mono or stereo
    head
}

/// The comment header: the vendor, and no comments (nothing of the recording's own tags).
fn tags() -> Vec<u8> {
    let vendor = b"courier";
    let mut tags = b"OpusTags".to_vec();
    tags.extend((vendor.len() as u32).to_le_bytes());
    tags.extend(vendor);
    tags.extend(0u32.to_le_bytes());
    tags
}

/// An Ogg Opus stream, read.
#[derive(Debug)]
pub struct Stream {
    /// Channels, 1 or 2.
    pub channels: usize,
    /// Samples at 48 kHz a player skips at the start.
    pub pre_skip: u64,
    /// The audio packets, in order.
    pub packets: Vec<Vec<u8>>,
    /// The last page's position, at 48 kHz: where the audio ends, counting the skipped start.
    pub end: u64,
}

impl Stream {
    /// Its length, in samples at 16 kHz.
    pub fn samples(&self) -> u64 {
        self.end.saturating_sub(self.pre_skip) / 3
    }
}

/// Reads an Ogg Opus file: one stream, its two headers, then audio.
pub fn read(bytes: &[u8]) -> Result<Stream, String> {
    let mut reader = PacketReader::new(Cursor::new(bytes));
    let mut next = || {
        reader
            .read_packet()
            .map_err(|e| format!("not an Ogg Opus file: {e}"))
    };
    let head = next()?.ok_or("an empty Ogg file")?;
    let data = &head.data;
    if data.len() < 19 || &data[..8] != b"OpusHead" {
        return Err("not an Ogg Opus file: its first packet is no OpusHead".into());
    }
    // Versions 0-15 share this layout (RFC 7845, 5.1).
    if data[8] > 15 {
        return Err(format!("Ogg Opus version {} is not read", data[8]));
    }
    let channels = usize::from(data[9]);
    if !(1..=2).contains(&channels) || data[18] != 0 {
        return Err("only mono and stereo Opus streams are read".into());
    }
    let pre_skip = u64::from(u16::from_le_bytes([data[10], data[11]]));
    let serial = head.stream_serial();
    let tags = next()?.ok_or("an Ogg Opus file without its comment header")?;
    if !tags.data.starts_with(b"OpusTags") {
        return Err("not an Ogg Opus file: its second packet is no OpusTags".into());
    }
    let (mut packets, mut end) = (Vec::new(), 0);
    while let Some(packet) = next()? {
        if packet.stream_serial() != serial {
            return Err("an Ogg file with more than one stream".into());
        }
        end = packet.absgp_page();
        packets.push(packet.data);
    }
    if packets.is_empty() {
        return Err("an Ogg Opus file without audio".into());
    }
    Ok(Stream {
        channels,
        pre_skip,
        packets,
        end,
    })
}

/// `stream`'s audio, mixed to mono, at 16 kHz, without the encoder's delay; an error names the
/// first packet that does not decode.
pub fn decode(stream: &Stream) -> Result<Vec<f32>, String> {
    let channels = stream.channels;
    let mut decoder = OpusDecoder::new(RATE as i32, channels)?;
    let mut frame = vec![0f32; MAX_PACKET_SAMPLES * channels];
    let mut samples = Vec::new();
    for (i, packet) in stream.packets.iter().enumerate() {
        // An empty packet would ask the decoder to conceal a loss: none is lost in a file.
        if packet.is_empty() {
            return Err(format!("packet {i} of the voice note is empty"));
        }
        let got = decoder
            .decode(packet, MAX_PACKET_SAMPLES, &mut frame)
            .map_err(|e| format!("packet {i} of the voice note is damaged: {e}"))?;
        samples.extend(
            frame[..got * channels]
                .chunks_exact(channels)
                .map(|s| s.iter().sum::<f32>() / channels as f32),
        );
    }
    let skip = (stream.pre_skip / 3) as usize;
    let len = stream.samples() as usize;
    Ok(samples.into_iter().skip(skip).take(len).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One second of a 440 Hz tone at half scale.
    fn tone() -> Vec<f32> {
        (0..RATE)
            .map(|i| 0.5 * (i as f32 * 440.0 * std::f32::consts::TAU / RATE as f32).sin())
            .collect()
    }

    #[test]
    fn a_tone_encodes_to_ogg_opus_of_its_length_and_decodes_close_to_itself() {
        let input = tone();
        let file = encode(&input).unwrap();
        assert_eq!(&file[..4], b"OggS");
        let stream = read(&file).unwrap();
        assert_eq!((stream.channels, stream.pre_skip), (1, 312));
        assert_eq!(stream.samples(), u64::from(RATE), "the padding is trimmed");
        assert_eq!(stream.packets.len(), (16_000 + 104usize).div_ceil(320));
        let output = decode(&stream).unwrap();
        assert_eq!(output.len(), input.len());
        // Aligned by the pre-skip: the decoded tone follows the input.
        let dot: f32 = input.iter().zip(&output).map(|(a, b)| a * b).sum();
        let (ea, eb): (f32, f32) = (
            input.iter().map(|a| a * a).sum(),
            output.iter().map(|b| b * b).sum(),
        );
        let correlation = dot / (ea * eb).sqrt();
        assert!(correlation > 0.9, "correlation {correlation}");
        // Near the bitrate: a second is about 2 KB, plus the headers.
        assert!(file.len() < 3_000, "{} bytes", file.len());
    }

    #[test]
    fn a_file_that_is_not_ogg_opus_or_is_damaged_gets_a_clear_error() {
        assert!(read(b"RIFF....WAVE").unwrap_err().contains("Ogg Opus"));
        let file = encode(&tone()).unwrap();
        assert!(read(&file[..60]).is_err(), "headers only");
        // The headers, as RFC 7845 lays them out: mono, 312 samples of pre-skip at 48 kHz, 16 kHz
        // input, no gain, mapping family 0; the vendor and no comments.
        assert_eq!(
            head(1),
            b"OpusHead\x01\x01\x38\x01\x80\x3e\x00\x00\x00\x00\x00".to_vec()
        );
        assert_eq!(tags(), b"OpusTags\x07\0\0\0courier\0\0\0\0".to_vec());
    }
}
