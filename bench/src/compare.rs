//! `--against OTHER_BIN`: two bridge builds compared in one run, in alternating rounds.
//!
//! On a shared machine one run of each build says little: the same build moves by 10–20 %
//! from one run to the next. So the two builds take turns, round after round (the order
//! flips every round, so that a drift in the machine's load favours neither), and what is
//! reported is each row's median over the rounds and the ratio of the two medians.

use std::fmt::Write as _;

use serde::Serialize;

use crate::report::Row;

/// The subject of the rows of the build given with `--against`.
pub const OTHER: &str = "other bridge";

/// One scenario's medians for both builds, and their ratios (this build ÷ the other).
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub scenario: String,
    pub events_per_txn: Option<usize>,
    pub rounds: usize,
    pub messages_per_s: (f64, f64),
    pub cpu_s_per_1000: (f64, f64),
    pub p50_ms: (f64, f64),
    pub p99_ms: (f64, f64),
    pub events_ratio: f64,
    pub cpu_ratio: f64,
}

/// The comparisons of every scenario both builds ran, in the order the rows came.
pub fn of(rows: &[Row]) -> Vec<Comparison> {
    let mut keys: Vec<(&str, Option<usize>)> = Vec::new();
    for row in rows {
        let key = (row.scenario.as_str(), row.events_per_txn);
        if !keys.contains(&key) {
            keys.push(key);
        }
    }
    keys.into_iter()
        .filter_map(|(scenario, per_txn)| {
            let of_subject = |subject: &str| -> Vec<&Row> {
                rows.iter()
                    .filter(|r| {
                        r.scenario == scenario
                            && r.events_per_txn == per_txn
                            && r.subject == subject
                    })
                    .collect()
            };
            let (this, other) = (of_subject("bridge"), of_subject(OTHER));
            if this.is_empty() || other.is_empty() {
                return None;
            }
            let both = |figure: fn(&Row) -> f64| (median(&this, figure), median(&other, figure));
            let messages_per_s = both(|r| r.messages_per_s);
            let cpu_s_per_1000 = both(|r| r.cpu_s_per_1000);
            Some(Comparison {
                scenario: scenario.to_owned(),
                events_per_txn: per_txn,
                rounds: this.len().min(other.len()),
                messages_per_s,
                cpu_s_per_1000,
                p50_ms: both(|r| r.latency.p50_ms),
                p99_ms: both(|r| r.latency.p99_ms),
                events_ratio: ratio(messages_per_s),
                cpu_ratio: ratio(cpu_s_per_1000),
            })
        })
        .collect()
}

/// The comparisons as text, a line each.
pub fn to_text(comparisons: &[Comparison]) -> String {
    let mut s = String::from("\nthis build against the other (medians over the rounds):\n");
    for c in comparisons {
        let per_txn = c.events_per_txn.map(|n| format!(", {n} ev/txn")).unwrap_or_default();
        let rounds =
            if c.rounds == 1 { "1 round".to_owned() } else { format!("{} rounds", c.rounds) };
        let _ = writeln!(
            s,
            "  {}{per_txn} ({rounds}): {:.0} against {:.0} msg/s ({:.2}x), {:.3} against {:.3} CPU s/1000 ({:.2}x), p50 {:.2} against {:.2} ms, p99 {:.2} against {:.2} ms",
            c.scenario,
            c.messages_per_s.0,
            c.messages_per_s.1,
            c.events_ratio,
            c.cpu_s_per_1000.0,
            c.cpu_s_per_1000.1,
            c.cpu_ratio,
            c.p50_ms.0,
            c.p50_ms.1,
            c.p99_ms.0,
            c.p99_ms.1,
        );
    }
    s
}

/// The median of one figure of `rows`; 0 without rows.
pub fn median(rows: &[&Row], figure: fn(&Row) -> f64) -> f64 {
    median_of(rows.iter().map(|r| figure(r)).collect())
}

/// The median of `values` (the mean of the middle two when their number is even); 0 when empty.
pub fn median_of(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

fn ratio((this, other): (f64, f64)) -> f64 {
    if other > 0.0 { this / other } else { 0.0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(subject: &str, scenario: &str, per_txn: Option<usize>, msg_s: f64, cpu: f64) -> Row {
        Row {
            scenario: scenario.into(),
            subject: subject.into(),
            events_per_txn: per_txn,
            messages_per_s: msg_s,
            cpu_s_per_1000: cpu,
            ..Row::default()
        }
    }

    #[test]
    fn medians_of_each_build_and_their_ratio_per_scenario() {
        let rows = [
            row("bridge", "outbound", Some(1), 100.0, 0.5),
            row(OTHER, "outbound", Some(1), 80.0, 0.6),
            row(OTHER, "outbound", Some(1), 90.0, 0.4),
            row("bridge", "outbound", Some(1), 300.0, 0.2),
            row("bridge", "outbound", Some(1), 120.0, 0.3),
            row(OTHER, "outbound", Some(1), 60.0, 0.8),
            // Only this build ran it: no comparison.
            row("bridge", "inbound", None, 50.0, 1.0),
            row("bridge", "outbound", Some(10), 400.0, 0.25),
            row(OTHER, "outbound", Some(10), 200.0, 0.5),
        ];
        let found = of(&rows);
        assert_eq!(found.len(), 2);
        let one = &found[0];
        assert_eq!(
            (one.scenario.as_str(), one.events_per_txn, one.rounds),
            ("outbound", Some(1), 3)
        );
        assert_eq!(one.messages_per_s, (120.0, 80.0));
        assert_eq!(one.cpu_s_per_1000, (0.3, 0.6));
        assert!((one.events_ratio - 1.5).abs() < 1e-9 && (one.cpu_ratio - 0.5).abs() < 1e-9);
        assert_eq!(found[1].events_per_txn, Some(10));
        assert!((found[1].events_ratio - 2.0).abs() < 1e-9);
    }

    #[test]
    fn an_even_number_of_rounds_takes_the_middle_two() {
        let rows = [row("bridge", "x", None, 1.0, 0.0), row("bridge", "x", None, 3.0, 0.0)];
        let refs: Vec<&Row> = rows.iter().collect();
        assert_eq!(median(&refs, |r| r.messages_per_s), 2.0);
    }
}
