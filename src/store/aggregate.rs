//! Aggregations over a query's matches: a histogram over time, the top values of a field, a
//! count. One backend-neutral operation ([`crate::store::EventReader::aggregate`]) that the
//! search page, the API (`/api/v1/aggregate`) and later the dashboards share, and that a
//! PostgreSQL store fills with the same answers. Results are exact (the overview's
//! pre-aggregated heavy hitters are an approximation; these are counted from the events).

/// What to compute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Aggregation {
    /// Matches per `interval` microseconds of `@timestamp`; chosen when `None`.
    Histogram { interval: Option<i64> },
    /// The `size` most frequent values of an ECS field.
    Top { field: String, size: usize },
    /// How many events match.
    Count,
}

/// What it gave.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum AggResult {
    Histogram {
        /// The bucket width in microseconds.
        interval: i64,
        /// (bucket start, events), oldest first; empty buckets left out.
        buckets: Vec<(i64, u64)>,
    },
    Top {
        field: String,
        /// (value, events), most frequent first (ties by value).
        values: Vec<(String, u64)>,
        /// Matches with another value than those listed.
        other: u64,
        /// Matches without the field.
        missing: u64,
    },
    Count {
        count: u64,
    },
}

/// Bucket widths a histogram may use, in microseconds.
const STEPS: [i64; 17] = [
    1_000_000,
    5_000_000,
    10_000_000,
    30_000_000,
    60_000_000,
    300_000_000,
    600_000_000,
    1_800_000_000,
    3_600_000_000,
    10_800_000_000,
    21_600_000_000,
    43_200_000_000,
    86_400_000_000,
    172_800_000_000,
    604_800_000_000,
    2_592_000_000_000,
    31_536_000_000_000,
];

/// The smallest standard width that splits `from..to` into at most `max_buckets` buckets.
pub fn auto_interval(from: i64, to: i64, max_buckets: i64) -> i64 {
    let span = to.saturating_sub(from).max(1);
    STEPS
        .iter()
        .copied()
        .find(|s| span / s < max_buckets.max(1))
        .unwrap_or(STEPS[STEPS.len() - 1])
}

/// Orders counted values most frequent first and cuts them to `size`, returning the rest's sum.
pub fn top_of(mut all: Vec<(String, u64)>, size: usize) -> (Vec<(String, u64)>, u64) {
    all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let other = all.iter().skip(size).map(|(_, n)| n).sum();
    all.truncate(size);
    (all, other)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interval_fits_the_span() {
        let day = 86_400_000_000;
        assert_eq!(auto_interval(0, day, 100), 1_800_000_000);
        assert_eq!(auto_interval(0, 30 * day, 100), 43_200_000_000);
        assert_eq!(auto_interval(0, 60_000_000, 100), 1_000_000);
        assert!(auto_interval(0, i64::MAX, 100) > 0);
        let (top, other) = top_of(
            vec![
                ("a".into(), 1),
                ("b".into(), 5),
                ("c".into(), 5),
                ("d".into(), 2),
            ],
            2,
        );
        assert_eq!(top, vec![("b".into(), 5), ("c".into(), 5)]);
        assert_eq!(other, 3);
    }
}
