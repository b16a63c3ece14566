//! Adding up a run's lines as they end: counts, timings and the lines a report keeps, in
//! memory that does not grow with the records (but for the lines kept).

use chrono::{DateTime, Utc};

use super::report::{millis, Counts, Outcome, RecordOutcome, RunReport, Timings};
use crate::ReportLines;

/// Durations below this many milliseconds have a bucket each; longer ones share a bucket
/// per power of two.
const EXACT_MS: usize = 1024;
/// Buckets for the powers of two from `EXACT_MS` up to `u64::MAX`.
const LOG_BUCKETS: usize = 64 - EXACT_MS.trailing_zeros() as usize;

/// A histogram of record durations: exact below a second, within a factor of two above.
#[derive(Debug)]
struct Histogram {
    /// Allocated at the first record: an empty run costs nothing.
    buckets: Vec<u64>,
    count: u64,
    total_ms: u64,
    max_ms: u64,
}

impl Histogram {
    fn new() -> Self {
        Histogram {
            buckets: Vec::new(),
            count: 0,
            total_ms: 0,
            max_ms: 0,
        }
    }

    fn bucket(ms: u64) -> usize {
        match usize::try_from(ms) {
            Ok(ms) if ms < EXACT_MS => ms,
            // ms >= EXACT_MS here, so its highest bit is at least EXACT_MS's.
            _ => EXACT_MS + (ms.ilog2() - EXACT_MS.ilog2()) as usize,
        }
    }

    /// The largest duration bucket `index` holds.
    fn upper(index: usize) -> u64 {
        if index < EXACT_MS {
            return index as u64;
        }
        let power = (index - EXACT_MS) as u32 + EXACT_MS.ilog2();
        1u64.checked_shl(power + 1)
            .map_or(u64::MAX, |next| next - 1)
    }

    fn add(&mut self, ms: u64) {
        if self.buckets.is_empty() {
            self.buckets = vec![0; EXACT_MS + LOG_BUCKETS];
        }
        if let Some(bucket) = self.buckets.get_mut(Self::bucket(ms)) {
            *bucket += 1;
        }
        self.count += 1;
        self.total_ms = self.total_ms.saturating_add(ms);
        self.max_ms = self.max_ms.max(ms);
    }

    /// The smallest duration at or below which `per_mille`/1000 of the records took.
    fn percentile(&self, per_mille: u64) -> u64 {
        if self.count == 0 {
            return 0;
        }
        // The rank of the record that marks the percentile, from 1: ceil(count × p).
        let rank = (self.count * per_mille).div_ceil(1000).max(1);
        let mut seen = 0;
        for (index, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                return Self::upper(index).min(self.max_ms);
            }
        }
        self.max_ms
    }

    fn timings(&self) -> Timings {
        Timings {
            p50_ms: self.percentile(500),
            p90_ms: self.percentile(900),
            p99_ms: self.percentile(990),
            max_ms: self.max_ms,
            total_ms: self.total_ms,
        }
    }
}

/// A run's lines added up as they end, in any order.
#[derive(Debug)]
pub(crate) struct Tally {
    lines: ReportLines,
    counts: Counts,
    durations: Histogram,
    /// The lines the report keeps, with their input positions.
    kept: Vec<(usize, RecordOutcome)>,
}

impl Tally {
    pub(crate) fn new(lines: ReportLines) -> Self {
        Tally {
            lines,
            counts: Counts::default(),
            durations: Histogram::new(),
            kept: Vec::new(),
        }
    }

    /// Whether the report keeps `line`.
    fn keeps(&self, line: &RecordOutcome) -> bool {
        match self.lines {
            ReportLines::Failed => matches!(line.outcome, Outcome::Failed { .. }),
            _ => true,
        }
    }

    /// Counts the line of the record at `index`, without keeping it.
    fn count(&mut self, line: &RecordOutcome) {
        let counts = &mut self.counts;
        counts.received += 1;
        match line.outcome {
            Outcome::Skipped { .. } => counts.skipped += 1,
            Outcome::Duplicate { .. } => counts.duplicate += 1,
            Outcome::Delivered { .. } => counts.delivered += 1,
            Outcome::Failed { .. } => {
                counts.failed += 1;
                if line.outcome.is_unknown() {
                    counts.unknown += 1;
                }
            }
        }
        self.durations.add(line.duration_ms);
    }

    /// Adds the line of the record at `index`, keeping it if the report does.
    pub(crate) fn add(&mut self, index: usize, line: RecordOutcome) {
        self.count(&line);
        if self.keeps(&line) {
            self.kept.push((index, line));
        }
    }

    /// Adds a line the caller keeps: a copy is taken only when the report keeps it.
    pub(crate) fn add_seen(&mut self, index: usize, line: &RecordOutcome) {
        self.count(line);
        if self.keeps(line) {
            self.kept.push((index, line.clone()));
        }
    }

    /// The counts so far.
    pub(crate) fn counts(&self) -> Counts {
        self.counts
    }

    /// The report: the kept lines in input order.
    pub(crate) fn into_report(
        self,
        flow_id: &str,
        started_at: DateTime<Utc>,
        finished_at: DateTime<Utc>,
    ) -> RunReport {
        let mut kept = self.kept;
        kept.sort_by_key(|(index, _)| *index);
        RunReport {
            flow_id: flow_id.to_owned(),
            started_at,
            finished_at,
            duration_ms: millis(finished_at - started_at),
            counts: self.counts,
            timings: self.durations.timings(),
            records: kept.into_iter().map(|(_, line)| line).collect(),
            lines: self.lines,
            warnings: Vec::new(),
            dry_run: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_exact_below_a_second_and_powers_of_two_above() {
        for ms in [0, 1, 999, 1023] {
            assert_eq!(Histogram::upper(Histogram::bucket(ms)), ms);
        }
        assert_eq!(Histogram::bucket(1024), EXACT_MS);
        assert_eq!(Histogram::upper(EXACT_MS), 2047);
        assert_eq!(Histogram::bucket(2047), EXACT_MS);
        assert_eq!(Histogram::bucket(2048), EXACT_MS + 1);
        assert_eq!(Histogram::bucket(u64::MAX), EXACT_MS + LOG_BUCKETS - 1);
        assert_eq!(Histogram::upper(EXACT_MS + LOG_BUCKETS - 1), u64::MAX);
    }

    #[test]
    fn percentiles_of_a_known_spread() {
        let mut h = Histogram::new();
        assert_eq!(h.timings(), Timings::default());
        for ms in 1..=100 {
            h.add(ms);
        }
        let t = h.timings();
        assert_eq!((t.p50_ms, t.p90_ms, t.p99_ms, t.max_ms), (50, 90, 99, 100));
        assert_eq!(t.total_ms, 5050);
        // A slow tail above a second lands within a factor of two, never above the max.
        h.add(5_000);
        let t = h.timings();
        assert_eq!((t.p50_ms, t.max_ms), (51, 5_000));
        let mut tail = Histogram::new();
        for _ in 0..10 {
            tail.add(3_000);
        }
        assert_eq!(tail.percentile(500), 3_000);
        tail.add(1_500);
        assert!((1_500..=3_000).contains(&tail.percentile(50)));
    }
}
