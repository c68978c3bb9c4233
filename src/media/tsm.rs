//! Time-scale compression of decoded speech (pitch-synchronous overlap-add, WSOLA style).
//!
//! To shrink the playout delay without gaps, [`Compressor::compress`] removes a whole number of
//! pitch periods from the start of a block of not yet played samples: it finds the lag at which
//! the signal best repeats itself (normalised cross-correlation, searched on a 4× decimated copy
//! and refined at full rate), cross-fades the first period into the one a lag later and closes
//! the gap. On voiced, stationary speech the result is the same sound slightly shorter; a block
//! that does not repeat well is left alone unless it is quiet (then any lag will do) or the
//! caller forces it.

/// Shortest lag removed: 2.5 ms (a 400 Hz pitch period).
pub const MIN_LAG: usize = 120;
/// Longest pitch period searched: 15 ms (67 Hz).
const MAX_PITCH: usize = 720;
/// Longest removal in one call: 20 ms.
pub const MAX_REMOVE: usize = 960;
/// Correlation window at full rate: 10 ms.
const WINDOW: usize = 480;
/// Decimation factor of the coarse search.
const DECIMATE: usize = 4;
/// Normalised correlation a lag needs on speech (not quiet, not forced).
const VOICED_CORR: f32 = 0.8;

/// Reusable scratch for the search (allocated once).
pub struct Compressor {
    coarse: Vec<f32>,
}

impl Default for Compressor {
    fn default() -> Self {
        Compressor::new()
    }
}

impl Compressor {
    /// Creates the scratch space.
    pub fn new() -> Compressor {
        Compressor {
            coarse: Vec::with_capacity((MAX_REMOVE + WINDOW) / DECIMATE + 1),
        }
    }

    /// Removes up to `max_remove` samples from the start of `buf` (never its first sample's
    /// continuity: the output starts with `buf[0]`) and returns how many were removed; the
    /// samples after the new end of `buf[..len - removed]` are left stale.
    ///
    /// `quiet`: the block is low-energy, any lag is acceptable. `force`: accept the best lag
    /// even if it correlates poorly (used when excess delay persisted for long).
    pub fn compress(
        &mut self,
        buf: &mut [i16],
        max_remove: usize,
        quiet: bool,
        force: bool,
    ) -> usize {
        let n = buf.len();
        let max_remove = max_remove.min(MAX_REMOVE);
        if max_remove < MIN_LAG || n < WINDOW + MIN_LAG {
            return 0;
        }
        let max_lag = max_remove.min(n - WINDOW);
        let lag = if quiet {
            // Quiet: the longest removal the block allows, at the best-correlating lag near it.
            let lo = (max_lag * 3 / 4).max(MIN_LAG);
            self.best_lag(buf, lo, max_lag).0
        } else {
            let (lag, corr) = self.best_lag(buf, MIN_LAG, MAX_PITCH.min(max_lag));
            if corr < VOICED_CORR && !force {
                return 0;
            }
            // Remove as many whole periods as allowed when they still repeat well.
            let mut best = lag;
            let mut k = max_lag / lag;
            while k >= 2 {
                let multiple = k * lag;
                if correlation(buf, multiple, WINDOW) >= VOICED_CORR.min(corr) {
                    best = multiple;
                    break;
                }
                k -= 1;
            }
            best
        };
        if lag < MIN_LAG || lag + WINDOW > n {
            return 0;
        }
        let fade = lag.min(WINDOW);
        for i in 0..fade {
            let w = 0.5 - 0.5 * (std::f32::consts::PI * (i as f32 + 0.5) / fade as f32).cos();
            let v = f32::from(buf[i]) * (1.0 - w) + f32::from(buf[i + lag]) * w;
            buf[i] = v.round().clamp(-32768.0, 32767.0) as i16;
        }
        buf.copy_within(fade + lag.., fade);
        lag
    }

    /// Best lag in `lo..=hi` by normalised correlation over [`WINDOW`]: coarse search on a
    /// decimated copy, then a full-rate refinement. Returns (lag, correlation).
    fn best_lag(&mut self, buf: &[i16], lo: usize, hi: usize) -> (usize, f32) {
        let hi = hi.min(buf.len() - WINDOW);
        if hi < lo {
            return (lo, 0.0);
        }
        let span = (hi + WINDOW).min(buf.len());
        self.coarse.clear();
        self.coarse.extend(
            buf[..span]
                .chunks_exact(DECIMATE)
                .map(|c| c.iter().map(|&s| f32::from(s)).sum::<f32>() / DECIMATE as f32),
        );
        let w = WINDOW / DECIMATE;
        let mut best = (lo, f32::MIN);
        for d in lo.div_ceil(DECIMATE)..=hi / DECIMATE {
            if d + w > self.coarse.len() {
                break;
            }
            let c = norm_corr(&self.coarse[..w], &self.coarse[d..d + w]);
            if c > best.1 {
                best = (d * DECIMATE, c);
            }
        }
        let center = best.0;
        let mut fine = (center.clamp(lo, hi), f32::MIN);
        for lag in center.saturating_sub(DECIMATE).max(lo)..=(center + DECIMATE).min(hi) {
            let c = correlation(buf, lag, WINDOW);
            if c > fine.1 {
                fine = (lag, c);
            }
        }
        fine
    }
}

/// Normalised correlation of `buf[..len]` with `buf[lag..lag + len]` (0 if out of range).
fn correlation(buf: &[i16], lag: usize, len: usize) -> f32 {
    if lag + len > buf.len() {
        return 0.0;
    }
    let a = buf[..len].iter().map(|&s| f32::from(s));
    let b = buf[lag..lag + len].iter().map(|&s| f32::from(s));
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (x, y) in a.zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa <= 0.0 || bb <= 0.0 {
        return if aa == bb { 1.0 } else { 0.0 };
    }
    (ab / (aa * bb).sqrt()) as f32
}

/// Normalised correlation of two equal-length float slices.
fn norm_corr(a: &[f32], b: &[f32]) -> f32 {
    let (mut ab, mut aa, mut bb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let (x, y) = (f64::from(x), f64::from(y));
        ab += x * y;
        aa += x * x;
        bb += y * y;
    }
    if aa <= 0.0 || bb <= 0.0 {
        return 0.0;
    }
    (ab / (aa * bb).sqrt()) as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(period: usize, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                let ph = 2.0 * std::f32::consts::PI * i as f32 / period as f32;
                (8000.0 * ph.sin() + 3000.0 * (2.0 * ph).sin()) as i16
            })
            .collect()
    }

    #[test]
    fn removes_whole_periods_of_a_periodic_signal_seamlessly() {
        let period = 200; // 240 Hz
        let mut buf = tone(period, 2880);
        let orig = buf.clone();
        let removed = Compressor::new().compress(&mut buf, 960, false, false);
        assert!((MIN_LAG..=960).contains(&removed), "{removed}");
        assert_eq!(removed % period, 0, "{removed}");
        // The result is the same waveform, shorter: no discontinuity anywhere.
        let out = &buf[..2880 - removed];
        for (i, (&a, &b)) in out.iter().zip(&orig).enumerate() {
            assert!(
                (i32::from(a) - i32::from(b)).abs() <= 2,
                "sample {i}: {a} vs {b}"
            );
        }
    }

    #[test]
    fn noise_is_left_alone_unless_quiet_or_forced() {
        let mut state = 12345u32;
        let mut noise: Vec<i16> = (0..2880)
            .map(|_| {
                state = state.wrapping_mul(1_103_515_245).wrapping_add(12345);
                ((state >> 16) as i16) / 4
            })
            .collect();
        let mut c = Compressor::new();
        assert_eq!(c.compress(&mut noise.clone(), 960, false, false), 0);
        let r = c.compress(&mut noise.clone(), 960, true, false);
        assert!((720..=960).contains(&r), "{r}");
        assert!(c.compress(&mut noise, 500, false, true) >= MIN_LAG);
        // Too little to remove or too short a block: nothing.
        assert_eq!(c.compress(&mut tone(200, 2880), 100, false, false), 0);
        assert_eq!(c.compress(&mut tone(200, 500), 960, false, false), 0);
    }
}
