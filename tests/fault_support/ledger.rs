//! The books of the fault-injection test: what each sender had accepted by its first hop, what
//! each receiver saw, and the verdict per stream (one chat, one direction).
//!
//! A sender numbers its items 1, 2, 3… in the order it sends them; an item is a text (maybe a
//! reply) or a reaction. Texts carry their number in the text (`"u2→gk #17"`); a reaction
//! carries none, so it is recognised by its target: every reaction of a stream targets a
//! different message of the opposite stream. A receiver turns what it sees back into numbers,
//! and the verdict compares: every sent number seen exactly once, in increasing order, replies
//! pointing at the right message.

use std::{
    collections::{BTreeMap, HashMap},
    fmt::Write as _,
    sync::{Arc, Mutex},
};

/// An item a sender's first hop accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// A numbered text; `reply_to` is a number in the opposite stream.
    Text { n: u32, reply_to: Option<u32> },
    /// A 👍 on message `target` of the opposite stream.
    Reaction { n: u32, target: u32 },
}

impl Sent {
    pub fn n(&self) -> u32 {
        match self {
            Sent::Text { n, .. } | Sent::Reaction { n, .. } => *n,
        }
    }
}

/// What a receiver saw, in arrival order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    Text {
        n: u32,
        reply_to: Option<u32>,
    },
    Reaction {
        target: u32,
    },
    /// Anything else the peer showed (a warning notice, an undecryptable message…).
    Unexpected(String),
}

/// One chat in one direction: its name, what went out, what came in.
pub struct Stream {
    pub name: String,
    sent: Mutex<Vec<Sent>>,
    seen: Mutex<Vec<Seen>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Stream {
    pub fn new(name: impl Into<String>) -> Arc<Self> {
        Arc::new(Self { name: name.into(), sent: Mutex::default(), seen: Mutex::default() })
    }

    pub fn record_sent(&self, item: Sent) {
        lock(&self.sent).push(item);
    }

    pub fn record_seen(&self, item: Seen) {
        lock(&self.seen).push(item);
    }

    /// Replaces what the receiver saw (with the authoritative read at the end).
    pub fn replace_seen(&self, items: Vec<Seen>) {
        *lock(&self.seen) = items;
    }

    pub fn sent_count(&self) -> usize {
        lock(&self.sent).len()
    }

    /// Whether every item sent so far was seen at least once.
    pub fn caught_up(&self) -> bool {
        self.verdict().lost.is_empty()
    }

    pub fn verdict(&self) -> Verdict {
        verdict(&self.name, &lock(&self.sent), &lock(&self.seen))
    }
}

/// The outcome for one stream; numbers name the items.
#[derive(Debug, Default, Clone)]
pub struct Verdict {
    pub name: String,
    pub sent: usize,
    pub delivered: usize,
    pub lost: Vec<u32>,
    pub duplicated: Vec<u32>,
    pub out_of_order: Vec<u32>,
    /// For each item out of order, the arrivals around it (`r` a reaction, `t` a text).
    pub reorders: Vec<String>,
    /// Replies that arrived pointing at another message, or at none.
    pub wrong_reply: Vec<u32>,
    pub unexpected: Vec<String>,
}

impl Verdict {
    pub fn is_clean(&self) -> bool {
        self.lost.is_empty()
            && self.duplicated.is_empty()
            && self.out_of_order.is_empty()
            && self.wrong_reply.is_empty()
            && self.unexpected.is_empty()
    }

    /// What went wrong, naming the items; empty when nothing did.
    pub fn problems(&self) -> String {
        let mut out = String::new();
        let mut line = |what: &str, items: &[u32]| {
            if !items.is_empty() {
                let _ = writeln!(out, "  {}: {what}: {}", self.name, numbers(items));
            }
        };
        line("lost", &self.lost);
        line("duplicated", &self.duplicated);
        line("out of order", &self.out_of_order);
        line("reply pointing elsewhere", &self.wrong_reply);
        for around in &self.reorders {
            let _ = writeln!(out, "  {}: arrived in this order: {around}", self.name);
        }
        for item in &self.unexpected {
            let _ = writeln!(out, "  {}: unexpected: {item}", self.name);
        }
        out
    }
}

fn numbers(items: &[u32]) -> String {
    items.iter().map(|n| format!("#{n}")).collect::<Vec<_>>().join(" ")
}

fn verdict(name: &str, sent: &[Sent], seen: &[Seen]) -> Verdict {
    let by_n: BTreeMap<u32, &Sent> = sent.iter().map(|item| (item.n(), item)).collect();
    let by_target: HashMap<u32, u32> = sent
        .iter()
        .filter_map(|item| match item {
            Sent::Reaction { n, target } => Some((*target, *n)),
            Sent::Text { .. } => None,
        })
        .collect();
    let mut verdict = Verdict { name: name.to_owned(), sent: sent.len(), ..Default::default() };
    let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
    let mut highest = 0;
    // First arrivals, labelled, to show where an item out of order came.
    let mut arrived: Vec<String> = Vec::new();
    let mut late: Vec<usize> = Vec::new();
    for item in seen {
        let n = match item {
            Seen::Text { n, reply_to } => {
                match by_n.get(n) {
                    Some(Sent::Text { reply_to: expected, .. }) if expected != reply_to => {
                        verdict.wrong_reply.push(*n)
                    }
                    Some(Sent::Text { .. }) => {}
                    _ => {
                        // Seen before its sender counted it (accepted, answer still on its way),
                        // or never sent at all: decided once sending is over.
                        verdict.unexpected.push(format!("text #{n}, not sent as a text"));
                        continue;
                    }
                }
                *n
            }
            Seen::Reaction { target } => match by_target.get(target) {
                Some(n) => *n,
                None => {
                    verdict.unexpected.push(format!("reaction to #{target}, not sent"));
                    continue;
                }
            },
            Seen::Unexpected(what) => {
                verdict.unexpected.push(what.clone());
                continue;
            }
        };
        let count = counts.entry(n).or_default();
        *count += 1;
        if *count == 2 {
            verdict.duplicated.push(n);
        }
        if *count == 1 {
            let kind = if matches!(item, Seen::Reaction { .. }) { "r" } else { "t" };
            arrived.push(format!("#{n}{kind}"));
            if n < highest {
                verdict.out_of_order.push(n);
                late.push(arrived.len() - 1);
            }
            highest = highest.max(n);
        }
    }
    for at in late {
        let window = &arrived[at.saturating_sub(5)..(at + 3).min(arrived.len())];
        verdict.reorders.push(window.join(" "));
    }
    verdict.delivered = by_n.keys().filter(|n| counts.contains_key(n)).count();
    verdict.lost = by_n.keys().copied().filter(|n| !counts.contains_key(n)).collect();
    verdict
}

/// Sums the verdicts into the one line the test prints.
pub fn summary(verdicts: &[Verdict]) -> String {
    let sum = |f: fn(&Verdict) -> usize| verdicts.iter().map(f).sum::<usize>();
    format!(
        "{} sent, {} delivered, {} lost, {} duplicated, {} out of order",
        sum(|v| v.sent),
        sum(|v| v.delivered),
        sum(|v| v.lost.len()),
        sum(|v| v.duplicated.len()),
        sum(|v| v.out_of_order.len()),
    )
}

#[test]
fn verdicts_name_lost_doubled_and_reordered_items() {
    let sent = [
        Sent::Text { n: 1, reply_to: None },
        Sent::Text { n: 2, reply_to: Some(7) },
        Sent::Reaction { n: 3, target: 4 },
        Sent::Text { n: 4, reply_to: None },
        Sent::Text { n: 5, reply_to: None },
    ];
    let seen = [
        Seen::Text { n: 1, reply_to: None },
        Seen::Reaction { target: 4 },
        Seen::Text { n: 2, reply_to: Some(7) },
        Seen::Text { n: 2, reply_to: Some(7) },
        Seen::Text { n: 4, reply_to: Some(1) },
    ];
    let v = verdict("a→b", &sent, &seen);
    assert_eq!((v.sent, v.delivered), (5, 4));
    assert_eq!(v.lost, [5]);
    assert_eq!(v.duplicated, [2]);
    assert_eq!(v.out_of_order, [2]);
    assert_eq!(v.wrong_reply, [4]);
    assert!(!v.is_clean());
    assert!(v.problems().contains("a→b: lost: #5"), "{}", v.problems());
    let clean = verdict("a→b", &sent[..2], &seen[..1]);
    assert_eq!(clean.lost, [2]);
    assert_eq!(summary(&[v, clean]), "7 sent, 5 delivered, 2 lost, 1 duplicated, 1 out of order");
}
