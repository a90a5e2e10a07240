//! IMA ADPCM (the WAV flavour, format tag 0x0011): 4 bits a sample, in blocks that each start from a
//! stored sample, so a damaged block damages only itself. Mono only.

/// Bytes per block.
pub const BLOCK_BYTES: usize = 256;
/// Samples per block: the header's sample plus two per remaining byte.
pub const SAMPLES_PER_BLOCK: usize = 1 + (BLOCK_BYTES - 4) * 2;
/// Largest step index.
const MAX_INDEX: i32 = 88;

const STEPS: [i32; 89] = [
    7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 19, 21, 23, 25, 28, 31, 34, 37, 41, 45, 50, 55, 60, 66,
    73, 80, 88, 97, 107, 118, 130, 143, 157, 173, 190, 209, 230, 253, 279, 307, 337, 371, 408, 449,
    494, 544, 598, 658, 724, 796, 876, 963, 1060, 1166, 1282, 1411, 1552, 1707, 1878, 2066, 2272,
    2499, 2749, 3024, 3327, 3660, 4026, 4428, 4871, 5358, 5894, 6484, 7132, 7845, 8630, 9493,
    10442, 11487, 12635, 13899, 15289, 16818, 18500, 20350, 22385, 24623, 27086, 29794, 32767,
];
const INDEX_CHANGE: [i32; 8] = [-1, -1, -1, -1, 2, 4, 6, 8];

/// Predictor state shared by the encoder and the decoder.
struct State {
    predicted: i32,
    index: i32,
}

impl State {
    /// Applies one nibble; returns the new sample.
    fn apply(&mut self, nibble: u8) -> i16 {
        let step = STEPS[self.index as usize];
        let mut delta = step >> 3;
        if nibble & 4 != 0 {
            delta += step;
        }
        if nibble & 2 != 0 {
            delta += step >> 1;
        }
        if nibble & 1 != 0 {
            delta += step >> 2;
        }
        self.predicted += if nibble & 8 != 0 { -delta } else { delta };
        self.predicted = self
            .predicted
            .clamp(i32::from(i16::MIN), i32::from(i16::MAX));
        self.index = (self.index + INDEX_CHANGE[usize::from(nibble & 7)]).clamp(0, MAX_INDEX);
        self.predicted as i16
    }

    /// The nibble that brings the prediction closest to `sample`, applied.
    fn encode(&mut self, sample: i16) -> u8 {
        let step = STEPS[self.index as usize];
        let mut diff = i32::from(sample) - self.predicted;
        let mut nibble = 0u8;
        if diff < 0 {
            nibble = 8;
            diff = -diff;
        }
        let mut step_part = step;
        for bit in [4u8, 2, 1] {
            if diff >= step_part {
                nibble |= bit;
                diff -= step_part;
            }
            step_part >>= 1;
        }
        self.apply(nibble);
        nibble
    }
}

/// Encodes `samples` into whole blocks; the last is padded with silence.
pub fn encode(samples: &[i16]) -> Vec<u8> {
    let mut out = Vec::with_capacity(samples.len().div_ceil(SAMPLES_PER_BLOCK) * BLOCK_BYTES);
    let mut index = 0;
    for block in samples.chunks(SAMPLES_PER_BLOCK) {
        let first = block[0];
        out.extend(first.to_le_bytes());
        out.extend([index as u8, 0]);
        let mut state = State {
            predicted: i32::from(first),
            index,
        };
        let mut rest = block[1..].iter().copied().chain(std::iter::repeat(0));
        for _ in 0..BLOCK_BYTES - 4 {
            let low = state.encode(rest.next().unwrap_or(0));
            let high = state.encode(rest.next().unwrap_or(0));
            out.push(low | high << 4);
        }
        index = state.index;
    }
    out
}

/// Why blocks do not decode.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadBlock(pub usize);

/// Decodes whole blocks back to samples; a block whose header is impossible is refused.
pub fn decode(data: &[u8]) -> Result<Vec<i16>, BadBlock> {
    if !data.len().is_multiple_of(BLOCK_BYTES) {
        return Err(BadBlock(data.len() / BLOCK_BYTES));
    }
    let mut out = Vec::with_capacity(data.len() / BLOCK_BYTES * SAMPLES_PER_BLOCK);
    for (n, block) in data.chunks_exact(BLOCK_BYTES).enumerate() {
        let first = i16::from_le_bytes([block[0], block[1]]);
        if i32::from(block[2]) > MAX_INDEX || block[3] != 0 {
            return Err(BadBlock(n));
        }
        let mut state = State {
            predicted: i32::from(first),
            index: i32::from(block[2]),
        };
        out.push(first);
        for &byte in &block[4..] {
            out.push(state.apply(byte & 0x0F));
            out.push(state.apply(byte >> 4));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sine_survives_encoding_with_a_good_signal_to_noise_ratio() {
        let samples: Vec<i16> = (0..4000)
            .map(|i| (f64::sin(i as f64 * 0.05) * 12_000.0) as i16)
            .collect();
        let encoded = encode(&samples);
        assert_eq!(encoded.len(), 8 * BLOCK_BYTES);
        let decoded = decode(&encoded).unwrap();
        let (signal, noise) = samples
            .iter()
            .zip(&decoded)
            .fold((0.0, 0.0), |(s, n), (a, b)| {
                let (a, b) = (f64::from(*a), f64::from(*b));
                (s + a * a, n + (a - b) * (a - b))
            });
        let snr_db = 10.0 * (signal / noise).log10();
        assert!(snr_db > 20.0, "SNR {snr_db:.1} dB");
    }

    #[test]
    fn damaged_blocks_are_refused() {
        let mut encoded = encode(&[1, 2, 3]);
        assert_eq!(decode(&encoded[..100]), Err(BadBlock(0)));
        encoded[2] = 89;
        assert_eq!(decode(&encoded), Err(BadBlock(0)));
    }
}
