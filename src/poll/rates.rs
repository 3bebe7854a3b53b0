//! Counters to rates, without spikes. Picket stores rates, not raw counters, and every rule
//! here is about never storing a rate the interface cannot have carried:
//!
//! - HC (64-bit) counters are used when present and not stuck at 0 (some agents answer 0 for
//!   an HC column they do not fill), else the 32-bit column; a change of width is a gap.
//! - A 32-bit counter that went back is a wrap only when the resulting rate is plausible for
//!   the interface speed; without a known speed a 32-bit wrap is a gap. A 64-bit counter that
//!   went back is a reset, never a wrap.
//! - sysUpTime going back (a reboot) or a new `ifCounterDiscontinuityTime` is a reset: a gap.
//! - A rate above 1.05 × the speed is never stored: it is a gap, counted by its reason.
//! - A sample taken long after the previous one (missed polls) is a gap, never one rate
//!   averaged over the hole.
//!
//! Elapsed time is the agent's own (sysUpTime), so a poll answered late does not inflate the
//! rate; the collector's clock is the fallback.

use std::time::Duration;

/// One reading of one counter.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sample {
    /// The 64-bit column's value, if the agent has it.
    pub hc: Option<u64>,
    /// The 32-bit column's value, if read.
    pub c32: Option<u32>,
    /// sysUpTime in hundredths of a second, read in the same poll.
    pub uptime: Option<u32>,
    /// `ifCounterDiscontinuityTime` (TimeTicks), if the agent has it.
    pub discontinuity: Option<u32>,
    /// When the collector read it (µs since the epoch).
    pub at: i64,
}

/// Why no rate was stored for a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Gap {
    /// The first sample of a counter (nothing to subtract).
    First,
    /// No value in the sample.
    Missing,
    /// The device rebooted or the counters were reset (sysUpTime or a 64-bit counter back).
    Reset,
    /// `ifCounterDiscontinuityTime` changed.
    Discontinuity,
    /// The counter switched between the 64- and 32-bit columns.
    Width,
    /// A 32-bit counter went back and no interface speed says whether a wrap is plausible.
    UnverifiedWrap,
    /// The rate would exceed 1.05 × the interface speed.
    Implausible,
    /// Too long since the previous sample (missed polls).
    Stale,
}

impl Gap {
    /// The metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Gap::First => "first",
            Gap::Missing => "missing",
            Gap::Reset => "reset",
            Gap::Discontinuity => "discontinuity",
            Gap::Width => "width",
            Gap::UnverifiedWrap => "unverified_wrap",
            Gap::Implausible => "implausible",
            Gap::Stale => "stale",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Reading {
    Wide(u64),
    Narrow(u32),
}

fn reading(s: &Sample) -> Option<Reading> {
    match (s.hc, s.c32) {
        // An HC column stuck at 0 while the 32-bit one counts is not filled in by the agent.
        (Some(0), Some(n)) if n > 0 => Some(Reading::Narrow(n)),
        (Some(h), _) => Some(Reading::Wide(h)),
        (None, Some(n)) => Some(Reading::Narrow(n)),
        (None, None) => None,
    }
}

/// One counter's previous reading.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counter {
    last: Option<(Reading, Sample)>,
}

/// The longest gap between samples, in intervals, that still gives a rate.
const STALE_INTERVALS: f64 = 2.5;
/// How far above the interface speed a rate may be (counter timing jitter).
const SPEED_SLACK: f64 = 1.05;

impl Counter {
    /// The rate per second since the previous sample, or why there is none. `scale` turns
    /// counter units into the rate's (8 for octets → bits); `speed` is the interface's in the
    /// same units per second (`None` or 0 when unknown); `interval` is the poll interval.
    pub fn update(
        &mut self,
        s: Sample,
        scale: f64,
        speed: Option<f64>,
        interval: Duration,
    ) -> Result<f64, Gap> {
        let Some(now) = reading(&s) else {
            // Keep the previous reading: the next sample is compared with it (or found stale).
            return Err(Gap::Missing);
        };
        let prev = self.last.replace((now, s));
        let Some((before, p)) = prev else {
            return Err(Gap::First);
        };
        if let (Some(a), Some(b)) = (p.uptime, s.uptime) {
            if b < a {
                return Err(Gap::Reset);
            }
        }
        if p.discontinuity != s.discontinuity && p.discontinuity.is_some() {
            return Err(Gap::Discontinuity);
        }
        let wall = (s.at - p.at) as f64 / 1e6;
        let secs = match (p.uptime, s.uptime) {
            (Some(a), Some(b)) if b > a => f64::from(b - a) / 100.0,
            _ => wall,
        };
        if secs <= 0.0 {
            return Err(Gap::Stale);
        }
        if wall > interval.as_secs_f64() * STALE_INTERVALS
            || secs > interval.as_secs_f64() * STALE_INTERVALS
        {
            return Err(Gap::Stale);
        }
        let speed = speed.filter(|v| *v > 0.0);
        let delta = match (before, now) {
            (Reading::Wide(a), Reading::Wide(b)) => {
                if b < a {
                    return Err(Gap::Reset);
                }
                (b - a) as f64
            }
            (Reading::Narrow(a), Reading::Narrow(b)) => {
                if b >= a {
                    f64::from(b - a)
                } else {
                    // A wrap, if the interface could have carried it.
                    let wrapped = (u64::from(b) + (1u64 << 32) - u64::from(a)) as f64;
                    match speed {
                        Some(max) if wrapped * scale / secs <= max * SPEED_SLACK => wrapped,
                        Some(_) => return Err(Gap::Implausible),
                        None => return Err(Gap::UnverifiedWrap),
                    }
                }
            }
            _ => return Err(Gap::Width),
        };
        let rate = delta * scale / secs;
        if let Some(max) = speed {
            if rate > max * SPEED_SLACK {
                return Err(Gap::Implausible);
            }
        }
        Ok(rate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: Duration = Duration::from_secs(60);
    const GIG: f64 = 1e9;

    fn s(hc: Option<u64>, c32: Option<u32>, uptime_s: u32, at_s: i64) -> Sample {
        Sample {
            hc,
            c32,
            uptime: Some(uptime_s * 100),
            discontinuity: Some(0),
            at: at_s * 1_000_000,
        }
    }

    #[test]
    fn hc_counters_give_bits_per_second_over_the_agents_time() {
        let mut c = Counter::default();
        assert_eq!(
            c.update(s(Some(1_000), None, 100, 0), 8.0, Some(GIG), MIN),
            Err(Gap::First)
        );
        // 60 s of agent time, answered 2 s late by the clock: the agent's time counts.
        let r = c
            .update(s(Some(7_501_000), None, 160, 62), 8.0, Some(GIG), MIN)
            .unwrap();
        assert!((r - 1_000_000.0).abs() < 1e-6, "{r}");
    }

    #[test]
    fn a_32_bit_wrap_is_taken_only_when_the_speed_allows_it() {
        let mut c = Counter::default();
        let near = u32::MAX - 1_000_000;
        c.update(s(None, Some(near), 0, 0), 8.0, Some(GIG), MIN)
            .unwrap_err();
        // 2,000,001 octets in 60 s across the wrap: 266 kbit/s on a 1G port.
        let r = c
            .update(s(None, Some(1_000_000), 60, 60), 8.0, Some(GIG), MIN)
            .unwrap();
        assert!((r - 2_000_001.0 * 8.0 / 60.0).abs() < 1.0, "{r}");
        // Without a speed, a wrap cannot be told from a reset.
        let mut c = Counter::default();
        c.update(s(None, Some(near), 0, 0), 8.0, None, MIN)
            .unwrap_err();
        assert_eq!(
            c.update(s(None, Some(1_000_000), 60, 60), 8.0, None, MIN),
            Err(Gap::UnverifiedWrap)
        );
        // On a 10 Mbit/s port the same wrap would be 266 kbit/s: fine; a counter that went
        // back by a little (a reset to a small value) would be a 572 Mbit/s "wrap": refused.
        let mut c = Counter::default();
        c.update(s(None, Some(4_000_000_000), 0, 0), 8.0, Some(1e7), MIN)
            .unwrap_err();
        assert_eq!(
            c.update(s(None, Some(3_999_000_000), 60, 60), 8.0, Some(1e7), MIN),
            Err(Gap::Implausible)
        );
    }

    #[test]
    fn resets_discontinuities_and_width_changes_are_gaps() {
        let mut c = Counter::default();
        c.update(s(Some(10_000), None, 1_000, 0), 8.0, Some(GIG), MIN)
            .unwrap_err();
        // Rebooted: sysUpTime went back.
        assert_eq!(
            c.update(s(Some(50), None, 30, 60), 8.0, Some(GIG), MIN),
            Err(Gap::Reset)
        );
        // The next sample rates from the reboot on.
        assert!(
            c.update(s(Some(60_050), None, 90, 120), 8.0, Some(GIG), MIN)
                .is_ok()
        );
        // A 64-bit counter that went back without a reboot: cleared, not wrapped.
        assert_eq!(
            c.update(s(Some(10), None, 150, 180), 8.0, None, MIN),
            Err(Gap::Reset)
        );
        let mut d = s(Some(20), None, 210, 240);
        d.discontinuity = Some(12_345);
        assert_eq!(c.update(d, 8.0, None, MIN), Err(Gap::Discontinuity));
        // HC stuck at 0 while the 32-bit column counts: the 32-bit column is used, a change
        // of width is a gap, and then rates flow again.
        let moved = |mut x: Sample| {
            x.discontinuity = Some(12_345);
            x
        };
        assert_eq!(
            c.update(moved(s(Some(0), Some(5_000), 270, 300)), 8.0, None, MIN),
            Err(Gap::Width)
        );
        let r = c
            .update(moved(s(Some(0), Some(65_000), 330, 360)), 1.0, None, MIN)
            .unwrap();
        assert!((r - 1_000.0).abs() < 1e-9);
    }

    #[test]
    fn rates_above_the_speed_and_stale_samples_are_never_stored() {
        let mut c = Counter::default();
        c.update(s(Some(0), None, 0, 0), 8.0, Some(1e8), MIN)
            .unwrap_err();
        // 1 GB in 60 s on a 100 Mbit/s port: a counter glitch, not traffic.
        assert_eq!(
            c.update(s(Some(1_000_000_000), None, 60, 60), 8.0, Some(1e8), MIN),
            Err(Gap::Implausible)
        );
        // Three polls missed: a gap, not one average over four minutes.
        assert_eq!(
            c.update(s(Some(1_000_100_000), None, 300, 300), 8.0, Some(1e8), MIN),
            Err(Gap::Stale)
        );
        // A sample without a value keeps the previous reading.
        let mut c = Counter::default();
        c.update(s(Some(0), None, 0, 0), 1.0, None, MIN)
            .unwrap_err();
        assert_eq!(
            c.update(s(None, None, 60, 60), 1.0, None, MIN),
            Err(Gap::Missing)
        );
        assert!(
            c.update(s(Some(600), None, 120, 120), 1.0, None, MIN)
                .is_ok()
        );
    }

    #[test]
    fn no_sequence_of_samples_stores_a_rate_above_the_speed() {
        // Random counters, resets, wraps and glitches: whatever is stored fits the port.
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..200 {
            let mut c = Counter::default();
            let speed = [1e7, 1e8, 1e9][rng.usize(..3)];
            let (mut v, mut up, mut at) = (rng.u32(..), 0u32, 0i64);
            for _ in 0..50 {
                up = up.wrapping_add(rng.u32(5_000..7_000));
                at += 60;
                v = match rng.u8(..10) {
                    0 => rng.u32(..),
                    1 => 0,
                    _ => v.wrapping_add(rng.u32(..80_000_000)),
                };
                let sample = Sample {
                    hc: None,
                    c32: Some(v),
                    uptime: Some(up),
                    discontinuity: None,
                    at: at * 1_000_000,
                };
                if let Ok(r) = c.update(sample, 8.0, Some(speed), MIN) {
                    assert!(r <= speed * SPEED_SLACK, "{r} on {speed}");
                    assert!(r >= 0.0);
                }
            }
        }
    }
}
