//! Optional per-interval byte counts per direction (`--trace FILE`), for benchmarks: what each
//! side offered, what reached the rate limiter after the loss stage, what it dropped, and the
//! link rate in force, so a benchmark can tell when a sender exceeded the link.

use std::io::Write;
use std::path::Path;
use std::time::Duration;

use serde::Serialize;

/// Length of one trace interval.
pub const BIN: Duration = Duration::from_millis(500);

/// Counts of one direction over one interval.
#[derive(Debug, Default, Clone, Copy, PartialEq, Serialize)]
pub struct Bin {
    /// Bytes (IPv4 + UDP headers included) the sender offered.
    pub offered: u64,
    /// Bytes (headers included) that survived the loss stage and met the rate limiter.
    pub to_limiter: u64,
    /// Datagrams the rate limiter's queue dropped.
    pub dropped_queue: u64,
    /// Link rate in force at the start of the interval (kbit/s, 0 = unlimited).
    pub rate_kbit: f64,
}

/// The time series of both directions.
#[derive(Debug, Default, Clone)]
pub struct Trace {
    bins: Vec<[Bin; 2]>,
}

impl Trace {
    /// The bin of direction `dir` covering `now`, created (with `rate_kbit`) if new.
    pub fn bin(&mut self, now: Duration, dir: usize, rate_kbit: f64) -> &mut Bin {
        let i = (now.as_micros() / BIN.as_micros()) as usize;
        while self.bins.len() <= i {
            self.bins.push([Bin::default(); 2]);
        }
        let b = &mut self.bins[i][dir.min(1)];
        if b.offered == 0 && b.to_limiter == 0 {
            b.rate_kbit = rate_kbit;
        }
        b
    }

    /// Writes one JSON line per interval: `{"t": start_seconds, "caller_to_callee": Bin,
    /// "callee_to_caller": Bin}`.
    pub fn write(&self, path: &Path) -> std::io::Result<()> {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
        for (i, [a, b]) in self.bins.iter().enumerate() {
            let line = serde_json::json!({
                "t": i as f64 * BIN.as_secs_f64(),
                "caller_to_callee": a,
                "callee_to_caller": b,
            });
            writeln!(out, "{line}")?;
        }
        out.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_by_half_second_and_direction() {
        let mut t = Trace::default();
        t.bin(Duration::from_millis(100), 0, 29.0).offered += 100;
        t.bin(Duration::from_millis(1200), 1, 8.0).dropped_queue += 1;
        assert_eq!(t.bins.len(), 3);
        assert_eq!(t.bins[0][0].offered, 100);
        assert_eq!(t.bins[0][0].rate_kbit, 29.0);
        assert_eq!(t.bins[2][1].dropped_queue, 1);
        let path = std::env::temp_dir().join(format!("trace-{}.jsonl", std::process::id()));
        t.write(&path).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
        assert_eq!(last["t"], 1.0);
        assert_eq!(last["callee_to_caller"]["dropped_queue"], 1);
    }
}
