//! Scales (data → pixels) and readable tick values.

/// How values map onto an axis.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scale {
    Linear {
        min: f64,
        max: f64,
    },
    /// Base-10 logarithmic; `min` must be > 0. Used for latencies, which
    /// span microseconds to the op timeout.
    Log {
        min: f64,
        max: f64,
    },
}

impl Scale {
    /// A linear scale covering `values` (and 0), with a little headroom.
    pub fn linear_from(values: impl Iterator<Item = f64>) -> Scale {
        let mut max = f64::MIN;
        let mut min = 0.0f64;
        for v in values.filter(|v| v.is_finite()) {
            max = max.max(v);
            min = min.min(v);
        }
        if max <= min {
            max = min + 1.0;
        }
        Scale::Linear {
            min,
            max: max + (max - min) * 0.05,
        }
    }

    /// A log scale covering the positive `values`, widened to whole decades.
    pub fn log_from(values: impl Iterator<Item = f64>) -> Scale {
        let (mut lo, mut hi) = (f64::MAX, f64::MIN);
        for v in values.filter(|v| v.is_finite() && *v > 0.0) {
            lo = lo.min(v);
            hi = hi.max(v);
        }
        if lo > hi {
            return Scale::Log {
                min: 1e-3,
                max: 1.0,
            };
        }
        let min = 10f64.powf(lo.log10().floor());
        let mut max = 10f64.powf(hi.log10().ceil());
        if max <= min {
            max = min * 10.0;
        }
        Scale::Log { min, max }
    }

    /// Position in [0, 1] of `v` on this scale (clamped).
    pub fn fraction(&self, v: f64) -> f64 {
        let f = match *self {
            Scale::Linear { min, max } => (v - min) / (max - min),
            Scale::Log { min, max } => {
                let v = v.max(min);
                (v.log10() - min.log10()) / (max.log10() - min.log10())
            }
        };
        if f.is_finite() {
            f.clamp(0.0, 1.0)
        } else {
            0.0
        }
    }

    /// About `target` tick values that read well (1, 2, 5 × 10ⁿ steps; each
    /// decade on a log scale).
    pub fn ticks(&self, target: usize) -> Vec<f64> {
        match *self {
            Scale::Linear { min, max } => {
                let step = nice_step((max - min) / target.max(1) as f64);
                let mut t = (min / step).ceil() * step;
                let mut out = Vec::new();
                while t <= max + step * 1e-9 && out.len() < 50 {
                    out.push(if t.abs() < step * 1e-9 { 0.0 } else { t });
                    t += step;
                }
                out
            }
            Scale::Log { min, max } => {
                let mut out = Vec::new();
                let mut t = min;
                while t <= max * 1.000001 && out.len() < 30 {
                    out.push(t);
                    t *= 10.0;
                }
                out
            }
        }
    }
}

fn nice_step(raw: f64) -> f64 {
    if !(raw.is_finite() && raw > 0.0) {
        return 1.0;
    }
    let magnitude = 10f64.powf(raw.log10().floor());
    let residual = raw / magnitude;
    let nice = if residual <= 1.0 {
        1.0
    } else if residual <= 2.0 {
        2.0
    } else if residual <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * magnitude
}

/// A tick label: short, no trailing zeros, SI suffixes for large values.
pub fn tick_label(v: f64) -> String {
    let a = v.abs();
    if a >= 1e9 {
        format!("{}G", trim(v / 1e9))
    } else if a >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if a >= 1e4 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

fn trim(v: f64) -> String {
    let s = format!("{:.3}", v);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_ticks_are_round_numbers() {
        let s = Scale::Linear {
            min: 0.0,
            max: 97.0,
        };
        assert_eq!(s.ticks(5), vec![0.0, 20.0, 40.0, 60.0, 80.0]);
        assert_eq!(tick_label(20000.0), "20k");
        assert_eq!(tick_label(0.25), "0.25");
    }

    #[test]
    fn log_scale_spans_whole_decades() {
        let s = Scale::log_from([0.0003, 0.2].into_iter());
        assert_eq!(
            s,
            Scale::Log {
                min: 1e-4,
                max: 1.0
            }
        );
        assert_eq!(s.ticks(5).len(), 5);
        assert!((s.fraction(0.01) - 0.5).abs() < 1e-9);
    }
}
