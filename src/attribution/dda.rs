//! Data-driven attribution (issue 16): MARKOV and SHAPLEY, trained on the
//! paths of one conversion name over a window of stored facts.
//!
//! Rule-based models say how to split credit; these two estimate from the
//! data which channels make conversions happen, and both are *exact*: the
//! Markov chain's absorption probabilities come from a linear solve, not a
//! simulation, and the Shapley values from the closed formula. Nothing here
//! is sampled, so the same facts always train the same model.
//!
//! Training depends only on the multiset of paths, never on their order:
//! every count is an integer gathered into a dense array or a `BTreeMap`,
//! and every floating-point sum runs over those in a fixed order (channel
//! order, or channel-set bit order). Two callers holding the same facts get
//! bit-for-bit the same model.
//!
//! The pipeline, for one conversion name:
//! 1. [`journey_paths`] (or [`training_paths`] on plain slices) turns each
//!    journey into its converting and non-converting [`Path`]s;
//! 2. [`train`] builds the chain and the coalition table into a
//!    [`DataDrivenModel`];
//! 3. [`markov_weights`] / [`shapley_weights`] split one conversion's credit
//!    over its touchpoints, summing to exactly 1 like the rule-based models.

use std::collections::BTreeMap;
use std::ops::Range;

use chrono::{DateTime, Duration, Utc};

use super::conversions::Journey;
use super::models::settle;
use super::touchpoints::Touchpoint;
use crate::domain::Channel;

/// Days of facts the models are trained on, ending at the newest stored fact
/// (`DDA_TRAINING_DAYS`).
pub const DEFAULT_TRAINING_DAYS: u32 = 90;

/// Removal effects and Shapley values are differences of probabilities, each
/// computed to about 1e-16; below this they are indistinguishable from
/// cancellation noise. Treating them as 0 is what makes "no channel earned
/// anything" (→ LINEAR fallback, or an equal Shapley split) reliable instead
/// of handing a whole conversion to a channel with a rounding residue. The
/// most credit this can move is 1e-12 of a conversion.
const NOISE: f64 = 1e-12;

const CHANNELS: usize = Channel::ALL.len();

/// The channel's position in [`Channel::ALL`] (the enum is declared in that
/// order; a test pins it), used as its bit and array index.
fn index(channel: Channel) -> usize {
    channel as usize
}

// ---------------------------------------------------------------------------
// Training paths
// ---------------------------------------------------------------------------

/// The training window: facts with `from <= at <= to` (both ends included,
/// like the lookback).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

impl Window {
    /// The `days` days ending at `to` (the newest stored pageview or event).
    pub fn ending_at(to: DateTime<Utc>, days: u32) -> Self {
        let from = to
            .checked_sub_signed(Duration::days(i64::from(days)))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        Window { from, to }
    }

    /// Whether `at` falls in the window.
    pub fn contains(&self, at: DateTime<Utc>) -> bool {
        self.from <= at && at <= self.to
    }
}

/// One training path: the channels of a journey's touchpoints, oldest first,
/// and whether it ended in the conversion.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Path {
    pub channels: Vec<Channel>,
    pub converted: bool,
}

/// A conversion of the trained name, as [`training_paths`] needs it: when it
/// happened and which of the journey's touchpoints are in play for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversionInPlay {
    pub at: DateTime<Utc>,
    /// Indexes into the journey's touchpoints (see [`Journey::in_play`]).
    pub touchpoints: Range<usize>,
}

/// The training paths of one journey, for one conversion name.
///
/// `touchpoints` are all of the journey's, oldest first (as
/// [`Journey::touchpoints`]); `conversions` are *all* its conversions of the
/// name, each with its touchpoints in play under the default lookback — every
/// one of them claims its touchpoints, but only those in the window add a
/// path. Returns, in this order:
/// - one converting path per conversion in the window that has touchpoints
///   (a conversion without touchpoints has nothing to learn from);
/// - at most one non-converting path: the touchpoints in the window that no
///   conversion claimed (so a converted user's later visits count here),
///   keeping those within one `lookback` before the last of them, as if the
///   journey had converted then; none when nothing is left.
pub fn training_paths(
    touchpoints: &[Touchpoint],
    conversions: &[ConversionInPlay],
    window: &Window,
    lookback: Duration,
) -> Vec<Path> {
    let mut claimed = vec![false; touchpoints.len()];
    let mut paths = Vec::new();
    for conversion in conversions {
        let range = conversion.touchpoints.clone();
        if let Some(flags) = claimed.get_mut(range.clone()) {
            flags.fill(true);
        }
        let in_play = touchpoints.get(range).unwrap_or_default();
        if window.contains(conversion.at) && !in_play.is_empty() {
            paths.push(Path {
                channels: in_play.iter().map(|t| t.channel).collect(),
                converted: true,
            });
        }
    }
    let unclaimed: Vec<&Touchpoint> = touchpoints
        .iter()
        .zip(&claimed)
        .filter(|(t, claimed)| !**claimed && window.contains(t.at))
        .map(|(t, _)| t)
        .collect();
    if let Some(last) = unclaimed.iter().map(|t| t.at).max() {
        let start = last
            .checked_sub_signed(lookback)
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        paths.push(Path {
            channels: unclaimed
                .iter()
                .filter(|t| t.at >= start)
                .map(|t| t.channel)
                .collect(),
            converted: false,
        });
    }
    paths
}

/// [`training_paths`] of a [`Journey`] for the conversions named `name`.
pub fn journey_paths(
    journey: &Journey,
    name: &str,
    window: &Window,
    lookback: Duration,
) -> Vec<Path> {
    let conversions: Vec<ConversionInPlay> = journey
        .events()
        .iter()
        .filter(|e| e.name == name)
        .map(|e| ConversionInPlay {
            at: e.at,
            touchpoints: journey.in_play(e.at, lookback),
        })
        .collect();
    training_paths(journey.touchpoints(), &conversions, window, lookback)
}

// ---------------------------------------------------------------------------
// Channel sets
// ---------------------------------------------------------------------------

/// A set of channels as a bitmask over [`Channel::ALL`] indexes: Shapley
/// coalitions are looked up and enumerated by the million, and a `u32`
/// compares, hashes and orders for free.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ChannelSet(u32);

impl ChannelSet {
    /// The distinct channels of `channels`.
    pub fn of(channels: &[Channel]) -> Self {
        ChannelSet(channels.iter().fold(0, |bits, c| bits | 1 << index(*c)))
    }

    /// From stored bits; bits beyond the 20 channels are dropped.
    pub fn from_bits(bits: u32) -> Self {
        ChannelSet(bits & ((1 << CHANNELS) - 1))
    }

    /// The bitmask (bit i is `Channel::ALL[i]`).
    pub fn bits(self) -> u32 {
        self.0
    }

    pub fn contains(self, channel: Channel) -> bool {
        self.0 & (1 << index(channel)) != 0
    }

    pub fn len(self) -> usize {
        self.0.count_ones() as usize
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn is_subset(self, other: ChannelSet) -> bool {
        self.0 & !other.0 == 0
    }

    /// The channels, in [`Channel::ALL`] order.
    pub fn channels(self) -> impl Iterator<Item = Channel> {
        Channel::ALL.into_iter().filter(move |c| self.contains(*c))
    }

    /// Every subset, the empty one first, in ascending bit order.
    fn subsets(self) -> impl Iterator<Item = ChannelSet> {
        // The classic submask walk `(t - s) & s` counts up through the
        // subsets of `s` as if its bits were contiguous.
        let mut next = Some(0u32);
        std::iter::from_fn(move || {
            let t = next?;
            let after = t.wrapping_sub(self.0) & self.0;
            next = (after != 0).then_some(after);
            Some(ChannelSet(t))
        })
    }
}

// ---------------------------------------------------------------------------
// The trained model
// ---------------------------------------------------------------------------

/// A state of the Markov chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum State {
    Start,
    Channel(Channel),
    Conversion,
    Null,
}

impl State {
    /// The API name: `(start)`, the channel's name, `(conversion)`, `(null)`.
    pub fn name(self) -> &'static str {
        match self {
            State::Start => "(start)",
            State::Channel(c) => c.as_str(),
            State::Conversion => "(conversion)",
            State::Null => "(null)",
        }
    }

    fn index(self) -> usize {
        match self {
            State::Start => START,
            State::Channel(c) => 1 + index(c),
            State::Conversion => CONVERSION,
            State::Null => NULL,
        }
    }

    fn of_index(i: usize) -> Self {
        match i {
            START => State::Start,
            CONVERSION => State::Conversion,
            NULL => State::Null,
            _ => State::Channel(Channel::ALL[i - 1]),
        }
    }
}

/// Dense state indexes: `(start)`, the channels, then the two absorbing states.
const START: usize = 0;
const TRANSIENT: usize = 1 + CHANNELS;
const CONVERSION: usize = TRANSIENT;
const NULL: usize = TRANSIENT + 1;
const STATES: usize = TRANSIENT + 2;

/// One transition of the chain with its count and probability (the count over
/// all transitions out of `from`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transition {
    pub from: State,
    pub to: State,
    pub count: u64,
    pub probability: f64,
}

/// The training paths whose distinct channels are exactly `channels`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coalition {
    pub channels: ChannelSet,
    pub converting: u64,
    pub paths: u64,
}

impl Coalition {
    /// v(S): the conversion rate of these paths.
    pub fn value(&self) -> f64 {
        if self.paths == 0 {
            0.0
        } else {
            self.converting as f64 / self.paths as f64
        }
    }
}

/// What the models learnt about one channel seen in the training paths.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChannelStats {
    pub channel: Channel,
    /// RE(c) = 1 − P₋c / P, in `[0, 1]`; 0 when P is 0.
    pub removal_effect: f64,
    /// s(c) = RE(c) / Σ RE; 0 for every channel when Σ RE is 0.
    pub markov_share: f64,
    /// The channel's part of all SHAPLEY credit given to the window's
    /// converting paths (see [`shapley_shares`]).
    pub shapley_share: f64,
}

/// Both data-driven models of one conversion name, trained on one window.
#[derive(Debug, Clone, PartialEq)]
pub struct DataDrivenModel {
    pub window: Window,
    pub converting_paths: u64,
    pub non_converting_paths: u64,
    /// P: the probability of absorption in `(conversion)` from `(start)`.
    pub conversion_probability: f64,
    /// Every channel on some training path, in [`Channel::ALL`] order.
    pub channels: Vec<ChannelStats>,
    /// Every transition seen, ordered by `from` then `to` in state order
    /// (`(start)`, channels in [`Channel::ALL`] order, `(conversion)`, `(null)`).
    pub transitions: Vec<Transition>,
    /// The Shapley v table: every distinct channel set seen, ascending by bits.
    pub coalitions: Vec<Coalition>,
    /// Converting paths of the window whose MARKOV credit fell back to LINEAR.
    pub fallbacks: u64,
}

impl DataDrivenModel {
    /// s(c), 0 for a channel never seen in training.
    pub fn markov_share(&self, channel: Channel) -> f64 {
        self.channels
            .iter()
            .find(|s| s.channel == channel)
            .map_or(0.0, |s| s.markov_share)
    }

    /// v(S), 0 for a set never seen (and for ∅).
    pub fn value(&self, set: ChannelSet) -> f64 {
        self.coalitions
            .binary_search_by_key(&set, |c| c.channels)
            .map_or(0.0, |i| self.coalitions[i].value())
    }

    /// Whether MARKOV falls back to LINEAR for a conversion with these
    /// channels: P is 0 or none of them has a share.
    fn markov_falls_back(&self, set: ChannelSet) -> bool {
        self.conversion_probability <= 0.0 || set.channels().all(|c| self.markov_share(c) <= 0.0)
    }

    /// Each channel of `set`'s share of a conversion with exactly those
    /// distinct channels (indexed by [`Channel::ALL`] position; 0 outside `set`).
    fn shapley_set_shares(&self, set: ChannelSet) -> [f64; CHANNELS] {
        let mut shares = [0.0; CHANNELS];
        let n = set.len();
        if n == 0 {
            return shares;
        }
        // φ(c) = Σ_{S ⊆ N∖{c}} w(|S|) (v(S ∪ {c}) − v(S)) with
        // w(k) = k! (n−k−1)! / n! = 1 / (n · C(n−1, k)). Regrouped by the
        // coalition T each v comes from: v(T) adds w(|T|−1) v(T) to every
        // c ∈ T and takes w(|T|) v(T) from every c ∈ N∖T. Only coalitions seen
        // in training have v ≠ 0, so we visit the smaller of the v table and
        // the 2^n subsets of N: n · min(|table|, 2^n) steps, at most
        // 20 · 2^20 ≈ 20M for a conversion that touched every channel, and
        // typically a few hundred. Both walks go in ascending bit order, so
        // they add the same terms in the same order and agree to the bit.
        let weight: Vec<f64> = (0..n)
            .map(|k| 1.0 / (n as f64 * binomial(n - 1, k)))
            .collect();
        let mut phi = [0.0; CHANNELS];
        let mut add = |t: ChannelSet, v: f64| {
            if v == 0.0 {
                return;
            }
            let k = t.len();
            for c in set.channels() {
                if t.contains(c) {
                    phi[index(c)] += weight[k - 1] * v;
                } else {
                    phi[index(c)] -= weight[k] * v;
                }
            }
        };
        if self.coalitions.len() < 1usize << n {
            for coalition in self.coalitions.iter().filter(|c| c.channels.is_subset(set)) {
                add(coalition.channels, coalition.value());
            }
        } else {
            for t in set.subsets() {
                add(t, self.value(t));
            }
        }
        // Negative contributions count as 0 (the rule): a channel
        // whose presence lowers the conversion rate earns nothing rather than
        // taking credit away from the others.
        for p in &mut phi {
            if *p <= NOISE {
                *p = 0.0;
            }
        }
        let total: f64 = phi.iter().sum();
        for c in set.channels() {
            shares[index(c)] = if total > 0.0 {
                phi[index(c)] / total
            } else {
                1.0 / n as f64
            };
        }
        shares
    }
}

/// C(n, k) as a float; exact for the n ≤ 19 a channel set can need.
fn binomial(n: usize, k: usize) -> f64 {
    let k = k.min(n - k);
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

/// Trains both models on the paths of one conversion name.
///
/// Paths without channels are ignored (the builders never make them).
/// Independent of the order of `paths`: the result is equal, bit for bit,
/// for any permutation.
pub fn train(window: Window, paths: &[Path]) -> DataDrivenModel {
    let mut counts = [[0u64; STATES]; STATES];
    let mut coalitions: BTreeMap<ChannelSet, Coalition> = BTreeMap::new();
    let (mut converting, mut non_converting) = (0u64, 0u64);
    for path in paths.iter().filter(|p| !p.channels.is_empty()) {
        if path.converted {
            converting += 1;
        } else {
            non_converting += 1;
        }
        let mut from = START;
        for &c in &path.channels {
            let to = State::Channel(c).index();
            // Consecutive repeats of a channel collapse: no self-transitions.
            if to != from {
                counts[from][to] += 1;
                from = to;
            }
        }
        counts[from][if path.converted { CONVERSION } else { NULL }] += 1;
        let set = ChannelSet::of(&path.channels);
        let coalition = coalitions.entry(set).or_insert(Coalition {
            channels: set,
            converting: 0,
            paths: 0,
        });
        coalition.paths += 1;
        coalition.converting += u64::from(path.converted);
    }

    let chain = Chain::of_counts(&counts);
    let p = chain.conversion_probability(None);
    let seen: Vec<Channel> = Channel::ALL
        .into_iter()
        .filter(|c| chain.totals[State::Channel(*c).index()] > 0)
        .collect();
    let removal_effects: Vec<f64> = seen
        .iter()
        .map(|c| {
            if p <= 0.0 {
                return 0.0;
            }
            // P₋c ≤ P exactly (removing c can only lose conversions), so RE
            // is in [0, 1] up to rounding, which the clamp and NOISE absorb.
            let re = (1.0 - chain.conversion_probability(Some(*c)) / p).clamp(0.0, 1.0);
            if re <= NOISE {
                0.0
            } else {
                re
            }
        })
        .collect();
    let total_re: f64 = removal_effects.iter().sum();
    let channels = seen
        .iter()
        .zip(&removal_effects)
        .map(|(&channel, &removal_effect)| ChannelStats {
            channel,
            removal_effect,
            markov_share: if total_re > 0.0 {
                removal_effect / total_re
            } else {
                0.0
            },
            shapley_share: 0.0,
        })
        .collect();

    let mut transitions = Vec::new();
    for (from, row) in counts.iter().enumerate().take(TRANSIENT) {
        for (to, &count) in row.iter().enumerate() {
            if count > 0 {
                transitions.push(Transition {
                    from: State::of_index(from),
                    to: State::of_index(to),
                    count,
                    probability: chain.probability[from][to],
                });
            }
        }
    }

    let mut model = DataDrivenModel {
        window,
        converting_paths: converting,
        non_converting_paths: non_converting,
        conversion_probability: p,
        channels,
        transitions,
        coalitions: coalitions.into_values().collect(),
        fallbacks: 0,
    };
    let converting_sets = converting_sets(paths);
    model.fallbacks = converting_sets
        .iter()
        .filter(|(set, _)| model.markov_falls_back(**set))
        .map(|(_, n)| n)
        .sum();
    let shapley = shares_of_sets(&model, &converting_sets);
    for stats in &mut model.channels {
        stats.shapley_share = shapley.get(&stats.channel).copied().unwrap_or(0.0);
    }
    model
}

/// The distinct channel sets of the converting paths, with how many paths have each.
fn converting_sets(paths: &[Path]) -> BTreeMap<ChannelSet, u64> {
    let mut sets = BTreeMap::new();
    for path in paths
        .iter()
        .filter(|p| p.converted && !p.channels.is_empty())
    {
        *sets.entry(ChannelSet::of(&path.channels)).or_insert(0) += 1;
    }
    sets
}

/// shapleyShare: each channel's part of all SHAPLEY credit given to the
/// converting paths among `paths` (Σ of its touchpoints' credits / the
/// number of converting paths). Channels that earned nothing are left out;
/// the values sum to 1 when there is a converting path.
///
/// A channel's touchpoints in one conversion share its Shapley share
/// equally, so their credits add up to that share; it is summed per distinct
/// channel set, in bit order, so the order of `paths` cannot change the sum.
pub fn shapley_shares(model: &DataDrivenModel, paths: &[Path]) -> BTreeMap<Channel, f64> {
    shares_of_sets(model, &converting_sets(paths))
}

fn shares_of_sets(
    model: &DataDrivenModel,
    sets: &BTreeMap<ChannelSet, u64>,
) -> BTreeMap<Channel, f64> {
    let conversions: u64 = sets.values().sum();
    let mut credit = [0.0; CHANNELS];
    for (&set, &n) in sets {
        let shares = model.shapley_set_shares(set);
        for c in set.channels() {
            credit[index(c)] += n as f64 * shares[index(c)];
        }
    }
    Channel::ALL
        .into_iter()
        .filter(|c| credit[index(*c)] > 0.0)
        .map(|c| (c, credit[index(c)] / conversions as f64))
        .collect()
}

/// MARKOV credit for one conversion whose touchpoints have these channels
/// (oldest first): touchpoint t gets s(channel(t)) / Σ s over the
/// conversion's touchpoints. When that sum or P is 0 the conversion gets
/// LINEAR instead, and the flag says so. Weights are ≥ 0 and sum (in order)
/// to exactly 1; empty in, empty out (not a fallback).
pub fn markov_weights(model: &DataDrivenModel, channels: &[Channel]) -> (Vec<f64>, bool) {
    if channels.is_empty() {
        return (Vec::new(), false);
    }
    if model.markov_falls_back(ChannelSet::of(channels)) {
        let mut w = vec![1.0 / channels.len() as f64; channels.len()];
        settle(&mut w);
        return (w, true);
    }
    let mut w: Vec<f64> = channels.iter().map(|c| model.markov_share(*c)).collect();
    let total: f64 = w.iter().sum();
    for wi in &mut w {
        *wi /= total;
    }
    settle(&mut w);
    (w, false)
}

/// SHAPLEY credit for one conversion whose touchpoints have these channels
/// (oldest first): each distinct channel's share φ(c) / Σ φ (equal shares
/// when every φ is 0), split equally over its touchpoints. Weights are ≥ 0
/// and sum (in order) to exactly 1; empty in, empty out.
pub fn shapley_weights(model: &DataDrivenModel, channels: &[Channel]) -> Vec<f64> {
    if channels.is_empty() {
        return Vec::new();
    }
    let shares = model.shapley_set_shares(ChannelSet::of(channels));
    let mut occurrences = [0usize; CHANNELS];
    for c in channels {
        occurrences[index(*c)] += 1;
    }
    let mut w: Vec<f64> = channels
        .iter()
        .map(|c| shares[index(*c)] / occurrences[index(*c)] as f64)
        .collect();
    settle(&mut w);
    w
}

// ---------------------------------------------------------------------------
// The absorbing chain
// ---------------------------------------------------------------------------

/// Transition probabilities between the dense states (counts normalised per
/// origin), with each origin's total count.
struct Chain {
    probability: [[f64; STATES]; STATES],
    totals: [u64; STATES],
}

impl Chain {
    fn of_counts(counts: &[[u64; STATES]; STATES]) -> Self {
        let mut probability = [[0.0; STATES]; STATES];
        let mut totals = [0u64; STATES];
        for (from, row) in counts.iter().enumerate() {
            let total: u64 = row.iter().sum();
            totals[from] = total;
            if total > 0 {
                for (p, &count) in probability[from].iter_mut().zip(row) {
                    *p = count as f64 / total as f64;
                }
            }
        }
        Chain {
            probability,
            totals,
        }
    }

    /// The probability of absorption in `(conversion)` from `(start)`, with
    /// every transition into `removed` redirected to `(null)`.
    ///
    /// With x the absorption probabilities of the transient states, Q the
    /// transient-to-transient block and r the column into `(conversion)`,
    /// x = Q x + r, i.e. (I − Q) x = r. Redirecting into `removed` zeroes its
    /// column of Q (the mass goes to `(null)`, which converts with
    /// probability 0). States never seen have empty rows, hence x = 0.
    /// I − Q is invertible because every seen state lies on a path that
    /// ends in absorption, so Gaussian elimination with partial pivoting
    /// over the 21 transient states solves it exactly up to rounding.
    fn conversion_probability(&self, removed: Option<Channel>) -> f64 {
        let removed = removed.map(|c| State::Channel(c).index());
        let mut a = [[0.0_f64; TRANSIENT + 1]; TRANSIENT];
        for (i, row) in a.iter_mut().enumerate() {
            for (j, cell) in row.iter_mut().take(TRANSIENT).enumerate() {
                let q = if Some(j) == removed {
                    0.0
                } else {
                    self.probability[i][j]
                };
                *cell = f64::from(u8::from(i == j)) - q;
            }
            row[TRANSIENT] = self.probability[i][CONVERSION];
        }
        solve(&mut a)[START]
    }
}

/// Solves the augmented system `a` (last column the right-hand side) by
/// Gaussian elimination with partial pivoting.
fn solve(a: &mut [[f64; TRANSIENT + 1]; TRANSIENT]) -> [f64; TRANSIENT] {
    let n = TRANSIENT;
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&x, &y| a[x][col].abs().total_cmp(&a[y][col].abs()))
            .unwrap_or(col);
        a.swap(col, pivot);
        let p = a[col][col];
        // Cannot happen for a chain built from paths (see
        // `conversion_probability`); leaving the column alone keeps the
        // answer finite rather than dividing by zero.
        if p == 0.0 {
            continue;
        }
        let (done, below) = a.split_at_mut(col + 1);
        let pivot_row = &done[col];
        for row in below {
            let factor = row[col] / p;
            if factor != 0.0 {
                for (cell, above) in row.iter_mut().zip(pivot_row).skip(col) {
                    *cell -= factor * above;
                }
            }
        }
    }
    let mut x = [0.0; TRANSIENT];
    for i in (0..n).rev() {
        let tail: f64 = (i + 1..n).map(|k| a[i][k] * x[k]).sum();
        x[i] = if a[i][i] == 0.0 {
            0.0
        } else {
            (a[i][n] - tail) / a[i][i]
        };
    }
    x
}

#[cfg(test)]
mod tests;
