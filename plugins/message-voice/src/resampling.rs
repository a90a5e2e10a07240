//! Sample-rate conversion with a windowed-sinc filter: the cut-off sits below the lower of the two
//! Nyquist frequencies, so downsampling a 44.1 kHz recording does not fold its highs back as noise.

use std::f32::consts::PI;

/// Zero crossings of the sinc on each side, at the lower rate.
const ZERO_CROSSINGS: f32 = 12.0;

/// `input` at `from` Hz, converted to `to` Hz.
pub fn resample(input: &[f32], from: u32, to: u32) -> Vec<f32> {
    if from == to || input.is_empty() {
        return input.to_vec();
    }
    let ratio = f64::from(to) / f64::from(from);
    // Cut-off as a fraction of the input's Nyquist frequency, a little under the lower one.
    let cutoff = (ratio.min(1.0) * 0.95) as f32;
    let half_width = (ZERO_CROSSINGS / cutoff).ceil() as isize;
    let out_len = (input.len() as f64 * ratio).floor() as usize;
    (0..out_len)
        .map(|n| {
            let t = n as f64 / ratio;
            let centre = t.floor() as isize;
            let frac = (t - centre as f64) as f32;
            let mut sum = 0.0;
            for k in (centre - half_width + 1)..=(centre + half_width) {
                let Some(&x) = usize::try_from(k).ok().and_then(|k| input.get(k)) else {
                    continue;
                };
                let d = (k - centre) as f32 - frac;
                let window = 0.5 + 0.5 * (PI * d / half_width as f32).cos();
                sum += x * cutoff * sinc(cutoff * d) * window;
            }
            sum
        })
        .collect()
}

fn sinc(x: f32) -> f32 {
    if x.abs() < 1e-6 {
        1.0
    } else {
        (PI * x).sin() / (PI * x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(hz: f32, rate: u32, len: usize) -> Vec<f32> {
        (0..len)
            .map(|i| (2.0 * PI * hz * i as f32 / rate as f32).sin())
            .collect()
    }

    fn rms(x: &[f32]) -> f32 {
        (x.iter().map(|v| v * v).sum::<f32>() / x.len() as f32).sqrt()
    }

    #[test]
    fn a_tone_below_the_new_nyquist_keeps_its_level_and_one_above_is_removed() {
        let kept = resample(&tone(440.0, 44_100, 44_100), 44_100, 16_000);
        assert_eq!(kept.len(), 16_000);
        assert!((rms(&kept[200..15_800]) - 0.707).abs() < 0.02);
        let removed = resample(&tone(12_000.0, 44_100, 44_100), 44_100, 16_000);
        assert!(rms(&removed[200..15_800]) < 0.05, "no aliasing");
    }
}
