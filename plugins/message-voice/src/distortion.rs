//! Voice distortion: the pitch moves by one factor and the formants (the resonances of the speaker's
//! vocal tract, which identify a voice as much as its pitch) by another, so neither a simple
//! resampling nor a pitch correction undoes it.
//!
//! Short-time Fourier analysis (1024-sample Hann frames, hop 256): each frame's magnitude is split
//! into a smooth envelope (cepstral liftering) and the fine excitation. The excitation's bins move
//! to `pitch` times their true frequency (phase-vocoder frequency estimates keep partials clean), the
//! envelope is read back at `1 / formant` times each frequency, and the product is resynthesised with
//! accumulated phases and overlap-added.

use std::f32::consts::PI;

use rustfft::FftPlanner;
use rustfft::num_complex::Complex32;

const FRAME: usize = 1024;
const HOP: usize = FRAME / 4;
/// Cepstral coefficients kept for the envelope: resonances, not harmonics (2.5 ms at 16 kHz).
const LIFTER: usize = 40;

/// How a voice is changed.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Distortion {
    /// Factor on the fundamental frequency (Anonomi uses 0.58-0.73).
    pub pitch: f32,
    /// Factor on the formant frequencies.
    pub formant: f32,
}

fn wrap(phase: f32) -> f32 {
    phase - 2.0 * PI * (phase / (2.0 * PI)).round()
}

/// Smooth log-magnitude envelope of `magnitude` (the first half of a spectrum plus Nyquist).
fn envelope(magnitude: &[f32], planner: &mut FftPlanner<f32>) -> Vec<f32> {
    let fft = planner.plan_fft_forward(FRAME);
    let mut cepstrum: Vec<Complex32> = (0..FRAME)
        .map(|k| {
            let m = magnitude[if k <= FRAME / 2 { k } else { FRAME - k }];
            Complex32::new((m + 1e-9).ln(), 0.0)
        })
        .collect();
    fft.process(&mut cepstrum); // real, symmetric input: forward and inverse agree up to scale
    for (q, c) in cepstrum.iter_mut().enumerate() {
        let quefrency = q.min(FRAME - q);
        *c = if quefrency < LIFTER {
            *c / FRAME as f32
        } else {
            Complex32::new(0.0, 0.0)
        };
    }
    fft.process(&mut cepstrum);
    cepstrum[..=FRAME / 2].iter().map(|c| c.re.exp()).collect()
}

/// Linear interpolation of `values` at fractional index `at` (0 past the end).
fn read_at(values: &[f32], at: f32) -> f32 {
    let i = at.floor() as usize;
    let frac = at - i as f32;
    match (values.get(i), values.get(i + 1)) {
        (Some(a), Some(b)) => a + (b - a) * frac,
        (Some(a), None) => *a,
        _ => 0.0,
    }
}

/// `samples` with pitch and formants moved; the same length.
pub fn distort(samples: &[f32], distortion: Distortion) -> Vec<f32> {
    let bins = FRAME / 2 + 1;
    let mut planner = FftPlanner::new();
    let forward = planner.plan_fft_forward(FRAME);
    let inverse = planner.plan_fft_inverse(FRAME);
    let window: Vec<f32> = (0..FRAME)
        .map(|i| 0.5 - 0.5 * (2.0 * PI * i as f32 / FRAME as f32).cos())
        .collect();
    // Hann squared at a quarter-frame hop sums to 1.5.
    let norm = 1.0 / (1.5 * FRAME as f32);

    let mut out = vec![0.0f32; samples.len() + FRAME];
    let mut last_phase = vec![0.0f32; bins];
    let mut out_phase = vec![0.0f32; bins];
    let mut spectrum = vec![Complex32::new(0.0, 0.0); FRAME];
    let mut start = 0;
    while start < samples.len() {
        for (i, s) in spectrum.iter_mut().enumerate() {
            let x = samples.get(start + i).copied().unwrap_or(0.0);
            *s = Complex32::new(x * window[i], 0.0);
        }
        forward.process(&mut spectrum);
        let magnitude: Vec<f32> = spectrum[..bins].iter().map(|c| c.norm()).collect();
        let env = envelope(&magnitude, &mut planner);

        // Move each bin's excitation to `pitch` times its measured frequency.
        let mut shifted = vec![0.0f32; bins];
        let mut frequency = vec![0.0f32; bins];
        for k in 0..bins {
            let phase = spectrum[k].arg();
            let expected = 2.0 * PI * k as f32 * HOP as f32 / FRAME as f32;
            let deviation = wrap(phase - last_phase[k] - expected);
            last_phase[k] = phase;
            let true_bin = k as f32 + deviation * FRAME as f32 / (2.0 * PI * HOP as f32);
            let target = (k as f32 * distortion.pitch).round() as usize;
            if target < bins {
                shifted[target] += magnitude[k] / env[k];
                frequency[target] = true_bin * distortion.pitch;
            }
        }
        for k in 0..bins {
            let warped_env = read_at(&env, k as f32 / distortion.formant);
            out_phase[k] = wrap(out_phase[k] + 2.0 * PI * frequency[k] * HOP as f32 / FRAME as f32);
            spectrum[k] = Complex32::from_polar(shifted[k] * warped_env, out_phase[k]);
        }
        for k in 1..FRAME / 2 {
            spectrum[FRAME - k] = spectrum[k].conj();
        }
        inverse.process(&mut spectrum);
        for (i, s) in spectrum.iter().enumerate() {
            out[start + i] += s.re * window[i] * norm;
        }
        start += HOP;
    }
    out.truncate(samples.len());
    out
}
