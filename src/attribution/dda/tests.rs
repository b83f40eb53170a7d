//! Tests of the data-driven models: hand-computed chains and coalitions,
//! training paths at the window's edges, and properties.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::attribution::{EventFact, PageviewFact};

const PS: Channel = Channel::PaidSearch;
const SOC: Channel = Channel::PaidSocial;
const EM: Channel = Channel::Email;
const DI: Channel = Channel::Direct;
const ORG: Channel = Channel::OrganicSearch;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 6, 1, 0, 0, 0).unwrap()
}

fn day(d: i64) -> DateTime<Utc> {
    t0() + Duration::days(d)
}

fn window() -> Window {
    Window::ending_at(day(90), DEFAULT_TRAINING_DAYS)
}

fn path(channels: &[Channel], converted: bool) -> Path {
    Path {
        channels: channels.to_vec(),
        converted,
    }
}

fn converted(channels: &[Channel]) -> Path {
    path(channels, true)
}

fn lost(channels: &[Channel]) -> Path {
    path(channels, false)
}

fn close(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() < 1e-12
}

fn assert_close(what: &str, actual: f64, expected: f64) {
    assert!(
        close(actual, expected),
        "{what}: got {actual}, expected {expected}"
    );
}

fn assert_weights(actual: &[f64], expected: &[f64]) {
    assert_eq!(actual.len(), expected.len(), "{actual:?}");
    for (a, e) in actual.iter().zip(expected) {
        assert!(close(*a, *e), "got {actual:?}, expected {expected:?}");
    }
    assert_eq!(actual.iter().sum::<f64>(), 1.0, "{actual:?}");
}

fn stats(model: &DataDrivenModel, channel: Channel) -> ChannelStats {
    *model
        .channels
        .iter()
        .find(|s| s.channel == channel)
        .unwrap_or_else(|| panic!("{channel} not in {:?}", model.channels))
}

fn probability(model: &DataDrivenModel, from: &str, to: &str) -> f64 {
    model
        .transitions
        .iter()
        .find(|t| t.from.name() == from && t.to.name() == to)
        .map_or(0.0, |t| t.probability)
}

#[test]
fn channel_indexes_are_their_positions_in_all() {
    for (i, c) in Channel::ALL.into_iter().enumerate() {
        assert_eq!(index(c), i, "{c}");
    }
}

#[test]
fn channel_sets_enumerate_their_subsets_in_ascending_order() {
    let set = ChannelSet::of(&[Channel::ALL[1], Channel::ALL[3], Channel::ALL[1]]);
    assert_eq!(set.len(), 2);
    let bits: Vec<u32> = set.subsets().map(ChannelSet::bits).collect();
    assert_eq!(bits, [0, 2, 8, 10]);
    assert_eq!(ChannelSet::default().subsets().count(), 1);
    assert_eq!(ChannelSet::of(&Channel::ALL).subsets().count(), 1 << 20);
    assert_eq!(
        ChannelSet::from_bits(u32::MAX),
        ChannelSet::of(&Channel::ALL)
    );
}

// ---------------------------------------------------------------------------
// MARKOV by hand
// ---------------------------------------------------------------------------

/// PS → conv, PS → EM → conv, EM → null.
///
/// Transitions: (start)→PS 2, (start)→EM 1; PS→conv 1, PS→EM 1; EM→conv 1, EM→null 1.
///   x(EM) = 1/2; x(PS) = 1/2 + 1/2·x(EM) = 3/4;
///   P = 2/3·3/4 + 1/3·1/2 = 2/3.
/// Without PS: (start)→PS goes to null, P₋PS = 1/3·1/2 = 1/6, RE = 1 − 1/4 = 3/4.
/// Without EM: x(PS) = 1/2, P₋EM = 2/3·1/2 = 1/3, RE = 1 − 1/2 = 1/2.
/// Σ RE = 5/4: s(PS) = 3/5, s(EM) = 2/5.
#[test]
fn markov_removal_effects_and_shares_match_a_chain_solved_by_hand() {
    let paths = [converted(&[PS]), converted(&[PS, EM]), lost(&[EM])];
    let model = train(window(), &paths);
    assert_eq!((model.converting_paths, model.non_converting_paths), (2, 1));
    assert_close("P", model.conversion_probability, 2.0 / 3.0);
    assert_close("RE(PS)", stats(&model, PS).removal_effect, 3.0 / 4.0);
    assert_close("RE(EM)", stats(&model, EM).removal_effect, 1.0 / 2.0);
    assert_close("s(PS)", stats(&model, PS).markov_share, 3.0 / 5.0);
    assert_close("s(EM)", stats(&model, EM).markov_share, 2.0 / 5.0);
    assert_eq!(model.fallbacks, 0);

    assert_close(
        "start→PS",
        probability(&model, "(start)", "PAID_SEARCH"),
        2.0 / 3.0,
    );
    assert_close("EM→null", probability(&model, "EMAIL", "(null)"), 0.5);
    let order: Vec<(&str, &str)> = model
        .transitions
        .iter()
        .map(|t| (t.from.name(), t.to.name()))
        .collect();
    assert_eq!(
        order,
        [
            ("(start)", "PAID_SEARCH"),
            ("(start)", "EMAIL"),
            ("PAID_SEARCH", "EMAIL"),
            ("PAID_SEARCH", "(conversion)"),
            ("EMAIL", "(conversion)"),
            ("EMAIL", "(null)"),
        ]
    );

    // PS, EM: 3/5 and 2/5. PS, PS, EM: 3/5, 3/5, 2/5 over 8/5.
    let (w, fell_back) = markov_weights(&model, &[PS, EM]);
    assert!(!fell_back);
    assert_weights(&w, &[3.0 / 5.0, 2.0 / 5.0]);
    let (w, _) = markov_weights(&model, &[PS, PS, EM]);
    assert_weights(&w, &[3.0 / 8.0, 3.0 / 8.0, 1.0 / 4.0]);
    assert_eq!(markov_weights(&model, &[]), (Vec::new(), false));
}

/// The case: PAID_SOCIAL is on every converting path, EMAIL only on
/// a non-converting one, and (start) → DIRECT → (conversion) bypasses
/// PAID_SOCIAL in the first-order chain.
///
/// Paths: DI → SOC → DI → conv; SOC → conv; EM → DI → null.
/// Transitions: (start)→DI, →SOC, →EM 1 each; DI→SOC 1, DI→conv 1, DI→null 1;
/// SOC→DI 1, SOC→conv 1; EM→DI 1.
///   x(DI) = 1/3·x(SOC) + 1/3, x(SOC) = 1/2·x(DI) + 1/2, x(EM) = x(DI)
///   ⇒ x(DI) = 3/5, x(SOC) = 4/5, x(EM) = 3/5, P = 1/3·(3/5 + 4/5 + 3/5) = 2/3.
/// Without SOC: x(DI) = 1/3 = x(EM), P₋SOC = 1/3·(1/3 + 1/3) = 2/9, RE = 1 − 1/3 = 2/3 (not 1).
/// Without EM: P₋EM = 1/3·(3/5 + 4/5) = 7/15, RE = 1 − 7/10 = 3/10 (not 0).
/// Without DI: x(SOC) = 1/2, P₋DI = 1/3·1/2 = 1/6, RE = 3/4.
/// Σ RE = 103/60: s = 45/103 (DI), 40/103 (SOC), 18/103 (EM).
#[test]
fn a_channel_on_every_conversion_and_one_never_converting_are_not_simply_one_and_zero() {
    let paths = [
        converted(&[DI, SOC, DI]),
        converted(&[SOC]),
        lost(&[EM, DI]),
    ];
    let model = train(window(), &paths);
    assert_close("P", model.conversion_probability, 2.0 / 3.0);
    assert_close("RE(SOC)", stats(&model, SOC).removal_effect, 2.0 / 3.0);
    assert_close("RE(EM)", stats(&model, EM).removal_effect, 3.0 / 10.0);
    assert_close("RE(DI)", stats(&model, DI).removal_effect, 3.0 / 4.0);
    assert_close("s(DI)", stats(&model, DI).markov_share, 45.0 / 103.0);
    assert_close("s(SOC)", stats(&model, SOC).markov_share, 40.0 / 103.0);
    assert_close("s(EM)", stats(&model, EM).markov_share, 18.0 / 103.0);
    // DI, SOC, DI: 45, 40, 45 over 130.
    let (w, fell_back) = markov_weights(&model, &[DI, SOC, DI]);
    assert!(!fell_back);
    assert_weights(&w, &[9.0 / 26.0, 4.0 / 13.0, 9.0 / 26.0]);
}

#[test]
fn consecutive_repeats_collapse_but_returns_to_a_channel_do_not() {
    let model = train(window(), &[converted(&[PS, PS, EM, EM, PS])]);
    let seen: Vec<(&str, &str, u64)> = model
        .transitions
        .iter()
        .map(|t| (t.from.name(), t.to.name(), t.count))
        .collect();
    assert_eq!(
        seen,
        [
            ("(start)", "PAID_SEARCH", 1),
            ("PAID_SEARCH", "EMAIL", 1),
            ("PAID_SEARCH", "(conversion)", 1),
            ("EMAIL", "PAID_SEARCH", 1),
        ]
    );
    // PS → EM → PS → conv is certain, and both channels are on the only route.
    assert_close("P", model.conversion_probability, 1.0);
    assert_close("RE(PS)", stats(&model, PS).removal_effect, 1.0);
    // Without EM, PS→EM goes to null: x(PS) = 1/2, RE = 1/2.
    assert_close("RE(EM)", stats(&model, EM).removal_effect, 0.5);
}

#[test]
fn without_conversions_markov_has_no_shares_and_falls_back_to_linear() {
    let model = train(window(), &[lost(&[PS, EM]), lost(&[EM])]);
    assert_eq!(model.conversion_probability, 0.0);
    assert!(model
        .channels
        .iter()
        .all(|s| s.removal_effect == 0.0 && s.markov_share == 0.0));
    let (w, fell_back) = markov_weights(&model, &[PS, EM, EM]);
    assert!(fell_back);
    assert_weights(&w, &[1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0]);
}

#[test]
fn a_conversion_only_through_unseen_channels_falls_back_and_others_get_no_credit() {
    let model = train(window(), &[converted(&[PS]), lost(&[EM])]);
    // EM leads only to (null): removing it loses nothing.
    assert_eq!(stats(&model, EM).removal_effect, 0.0);
    assert_eq!(model.fallbacks, 0);
    let (w, fell_back) = markov_weights(&model, &[ORG, EM]);
    assert!(fell_back);
    assert_weights(&w, &[0.5, 0.5]);
    let (w, fell_back) = markov_weights(&model, &[ORG, PS, EM]);
    assert!(!fell_back);
    assert_weights(&w, &[0.0, 1.0, 0.0]);
}

#[test]
fn paths_without_channels_are_ignored() {
    let with = train(window(), &[converted(&[PS]), lost(&[]), converted(&[])]);
    assert_eq!(with, train(window(), &[converted(&[PS])]));
}

// ---------------------------------------------------------------------------
// SHAPLEY by hand
// ---------------------------------------------------------------------------

/// v({PS}) = 1/4 (4 paths), v({EM}) = 1/2 (2 paths), v({PS, EM}) = 2/3 (3 paths).
///   φ(PS) = 1/2·v(PS) + 1/2·(v(PS,EM) − v(EM)) = 1/8 + 1/12 = 5/24
///   φ(EM) = 1/2·v(EM) + 1/2·(v(PS,EM) − v(PS)) = 1/4 + 5/24 = 11/24
///   (Σ φ = 2/3 = v(N)); shares 5/16 and 11/16.
/// shapleyShare over the 4 converting paths ({PS}, {EM}, {PS, EM} twice):
///   PS: (1 + 2·5/16)/4 = 13/32, EM: (1 + 2·11/16)/4 = 19/32.
fn two_channel_paths() -> Vec<Path> {
    let mut paths = vec![converted(&[PS]), lost(&[PS]), lost(&[PS, PS]), lost(&[PS])];
    paths.extend([converted(&[EM]), lost(&[EM])]);
    paths.extend([
        converted(&[PS, EM]),
        converted(&[EM, PS, EM]),
        lost(&[EM, PS]),
    ]);
    paths
}

#[test]
fn shapley_values_of_two_channels_match_the_formula_by_hand() {
    let model = train(window(), &two_channel_paths());
    let v = |cs: &[Channel]| model.value(ChannelSet::of(cs));
    assert_close("v(PS)", v(&[PS]), 0.25);
    assert_close("v(EM)", v(&[EM]), 0.5);
    assert_close("v(PS,EM)", v(&[PS, EM]), 2.0 / 3.0);
    assert_eq!(v(&[]), 0.0);
    assert_eq!(v(&[ORG]), 0.0);
    // PS, EM, PS: PS's 5/16 split over its two touchpoints.
    assert_weights(
        &shapley_weights(&model, &[PS, EM, PS]),
        &[5.0 / 32.0, 11.0 / 16.0, 5.0 / 32.0],
    );
    assert_weights(&shapley_weights(&model, &[EM]), &[1.0]);
    assert_close(
        "shapleyShare(PS)",
        stats(&model, PS).shapley_share,
        13.0 / 32.0,
    );
    assert_close(
        "shapleyShare(EM)",
        stats(&model, EM).shapley_share,
        19.0 / 32.0,
    );
    let shares = shapley_shares(&model, &two_channel_paths());
    assert_eq!(shares.len(), 2);
    assert_close("shapley_shares(PS)", shares[&PS], 13.0 / 32.0);
}

/// Coalitions over PS, EM, ORG (ORG as "C"):
///   {PS} 1/2 (1 of 2), {ORG} 1/4 (1 of 4), {PS,EM} 1/2 (1 of 2),
///   {PS,ORG} 1 (1 of 1), {EM,ORG} 0 (0 of 1), {PS,EM,ORG} 3/4 (3 of 4); {EM} unseen: 0.
/// Weights for n = 3: |S| = 0 → 1/3, 1 → 1/6, 2 → 1/3.
///   φ(PS)  = 1/3·1/2 + 1/6·(1/2 − 0) + 1/6·(1 − 1/4) + 1/3·(3/4 − 0) = 15/24 = 5/8
///   φ(EM)  = 1/3·0 + 1/6·(1/2 − 1/2) + 1/6·(0 − 1/4) + 1/3·(3/4 − 1) = −1/8 → 0
///   φ(ORG) = 1/3·1/4 + 1/6·(1 − 1/2) + 1/6·(0 − 0) + 1/3·(3/4 − 1/2) = 1/4
///   (Σ φ = 3/4 = v(N) before clipping); shares 5/7, 0, 2/7.
/// For N = {PS, ORG} (n = 2, weights 1/2):
///   φ(PS) = 1/2·1/2 + 1/2·(1 − 1/4) = 5/8, φ(ORG) = 1/2·1/4 + 1/2·(1 − 1/2) = 3/8.
fn three_channel_paths() -> Vec<Path> {
    let mut paths = vec![converted(&[PS]), lost(&[PS])];
    paths.extend([converted(&[ORG]), lost(&[ORG]), lost(&[ORG]), lost(&[ORG])]);
    paths.extend([converted(&[PS, EM]), lost(&[EM, PS])]);
    paths.push(converted(&[ORG, PS]));
    paths.push(lost(&[EM, ORG]));
    paths.extend([
        converted(&[PS, EM, ORG]),
        converted(&[ORG, EM, PS]),
        converted(&[EM, PS, ORG, PS]),
        lost(&[ORG, PS, EM]),
    ]);
    paths
}

#[test]
fn shapley_values_of_three_channels_match_the_formula_by_hand_with_negatives_clipped() {
    let model = train(window(), &three_channel_paths());
    assert_eq!(model.coalitions.len(), 6);
    // Six coalitions < 2³ subsets: the walk over the v table.
    assert_weights(
        &shapley_weights(&model, &[PS, EM, ORG]),
        &[5.0 / 7.0, 0.0, 2.0 / 7.0],
    );
    // Six coalitions ≥ 2² subsets: the walk over the subsets of N.
    assert_weights(
        &shapley_weights(&model, &[PS, ORG]),
        &[5.0 / 8.0, 3.0 / 8.0],
    );
}

#[test]
fn shapley_splits_equally_when_no_channel_earns_anything() {
    let model = train(window(), &[converted(&[PS]), lost(&[EM, ORG])]);
    // v = 0 for every subset of {EM, ORG}: equal shares, EM's split over two touchpoints.
    assert_weights(&shapley_weights(&model, &[EM, ORG, EM]), &[0.25, 0.5, 0.25]);
    assert!(shapley_weights(&model, &[]).is_empty());
}

// ---------------------------------------------------------------------------
// Training paths
// ---------------------------------------------------------------------------

fn tp(at: DateTime<Utc>, channel: Channel) -> Touchpoint {
    Touchpoint {
        at,
        fingerprint: "f".to_owned(),
        url: "https://app.example.com/".to_owned(),
        landing_page: "/".to_owned(),
        referrer_url: None,
        source: channel.as_str().to_lowercase(),
        medium: "m".to_owned(),
        campaign: None,
        content: None,
        term: None,
        channel,
        rule: "test".to_owned(),
    }
}

fn conv(at: DateTime<Utc>, touchpoints: Range<usize>) -> ConversionInPlay {
    ConversionInPlay { at, touchpoints }
}

const LOOKBACK: i64 = 30;

fn paths_of(tps: &[Touchpoint], conversions: &[ConversionInPlay]) -> Vec<Path> {
    training_paths(tps, conversions, &window(), Duration::days(LOOKBACK))
}

#[test]
fn the_window_includes_both_of_its_ends() {
    let w = window();
    assert_eq!((w.from, w.to), (day(0), day(90)));
    let edge = Duration::seconds(1);
    let tps = [tp(day(0) - edge, PS), tp(day(0), EM), tp(day(90), ORG)];
    // A lookback longer than the window, so only the window cuts here.
    let paths_of = |conversions: &[ConversionInPlay]| {
        training_paths(&tps, conversions, &w, Duration::days(100))
    };
    // The first touchpoint is before the window: not part of the lost path.
    assert_eq!(paths_of(&[]), [lost(&[EM, ORG])]);
    // A conversion just before the window adds no path.
    assert_eq!(paths_of(&[conv(day(0) - edge, 0..1)]), [lost(&[EM, ORG])]);
    // One exactly at the start is in; its touchpoint from before the window
    // is in play for it, so it stays on the converting path.
    assert_eq!(
        paths_of(&[conv(day(0), 0..2)]),
        [converted(&[PS, EM]), lost(&[ORG])]
    );
    // One exactly at the end is in too.
    assert_eq!(paths_of(&[conv(day(90), 1..3)]), [converted(&[EM, ORG])]);
}

#[test]
fn a_converted_users_later_touchpoints_make_a_non_converting_path() {
    let tps = [
        tp(day(10), PS),
        tp(day(12), EM),
        tp(day(40), ORG),
        tp(day(41), DI),
    ];
    assert_eq!(
        paths_of(&tps, &[conv(day(12), 0..2)]),
        [converted(&[PS, EM]), lost(&[ORG, DI])]
    );
}

#[test]
fn a_touchpoint_in_play_for_two_conversions_is_on_both_paths() {
    let tps = [tp(day(10), PS), tp(day(12), EM)];
    assert_eq!(
        paths_of(&tps, &[conv(day(11), 0..1), conv(day(13), 0..2)]),
        [converted(&[PS]), converted(&[PS, EM])]
    );
}

#[test]
fn the_non_converting_path_keeps_one_lookback_before_its_last_touchpoint() {
    // Last unclaimed at day 60: keep from day 30 (exactly one lookback) on.
    let tps = [
        tp(day(5), PS),
        tp(day(30) - Duration::seconds(1), EM),
        tp(day(30), ORG),
        tp(day(50), SOC),
        tp(day(60), DI),
    ];
    assert_eq!(paths_of(&tps, &[]), [lost(&[ORG, SOC, DI])]);
    // Claimed touchpoints do not count as "the last of them": now the last
    // is day 50, and the cut moves to day 20.
    assert_eq!(
        paths_of(&tps, &[conv(day(61), 4..5)]),
        [converted(&[DI]), lost(&[EM, ORG, SOC])]
    );
}

#[test]
fn a_conversion_without_touchpoints_adds_no_path() {
    assert!(paths_of(&[], &[conv(day(20), 0..0)]).is_empty());
    let tps = [tp(day(10), PS)];
    assert_eq!(paths_of(&tps, &[conv(day(20), 1..1)]), [lost(&[PS])]);
}

fn pageview(at: DateTime<Utc>, channel: Channel) -> PageviewFact {
    PageviewFact {
        fingerprint: "laptop".to_owned(),
        at,
        url: "https://app.example.com/".to_owned(),
        landing_page: "/".to_owned(),
        referrer_url: None,
        source: channel.as_str().to_lowercase(),
        medium: "m".to_owned(),
        campaign: None,
        content: None,
        term: None,
        channel,
        rule: "test".to_owned(),
    }
}

fn event(name: &str, at: DateTime<Utc>) -> EventFact {
    EventFact {
        name: name.to_owned(),
        fingerprint: "laptop".to_owned(),
        user_id: Some("u1".to_owned()),
        at,
    }
}

#[test]
fn a_journey_gives_the_paths_of_its_conversions_of_that_name_only() {
    let pageviews = [
        pageview(day(1), SOC),
        pageview(day(3), PS),
        pageview(day(20), EM),
        pageview(day(25), ORG),
    ];
    let events = [event("trial", day(4)), event("signup", day(21))];
    let journey = Journey::new(&pageviews, &events, Duration::minutes(30));
    let lookback = Duration::days(LOOKBACK);
    assert_eq!(
        journey_paths(&journey, "signup", &window(), lookback),
        [converted(&[SOC, PS, EM]), lost(&[ORG])]
    );
    // The trial claims only what is in play for it.
    assert_eq!(
        journey_paths(&journey, "trial", &window(), lookback),
        [converted(&[SOC, PS]), lost(&[EM, ORG])]
    );

    // Duplicated, shuffled facts are the same journey, hence the same paths.
    let mut more_pageviews = pageviews.to_vec();
    more_pageviews.extend(pageviews.iter().rev().cloned());
    let more_events = [events[1].clone(), events[0].clone(), events[1].clone()];
    let again = Journey::new(&more_pageviews, &more_events, Duration::minutes(30));
    assert_eq!(
        journey_paths(&again, "signup", &window(), lookback),
        journey_paths(&journey, "signup", &window(), lookback)
    );
}

// ---------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------

mod properties {
    use proptest::prelude::*;

    use super::*;

    const POOL: [Channel; 5] = [DI, PS, SOC, EM, ORG];

    fn channels() -> impl Strategy<Value = Vec<Channel>> {
        prop::collection::vec(prop::sample::select(POOL.to_vec()), 1..7)
    }

    fn paths() -> impl Strategy<Value = Vec<Path>> {
        prop::collection::vec(
            (channels(), any::<bool>()).prop_map(|(channels, converted)| Path {
                channels,
                converted,
            }),
            0..40,
        )
    }

    /// The Shapley formula as the issue writes it: factorials and every subset.
    fn reference_phi(model: &DataDrivenModel, set: ChannelSet) -> Vec<(Channel, f64)> {
        let fact = |k: usize| (1..=k).map(|i| i as f64).product::<f64>();
        let n = set.len();
        set.channels()
            .map(|c| {
                let others = ChannelSet(set.bits() & !(1 << index(c)));
                let phi: f64 = others
                    .subsets()
                    .map(|s| {
                        let with = ChannelSet(s.bits() | 1 << index(c));
                        fact(s.len()) * fact(n - s.len() - 1) / fact(n)
                            * (model.value(with) - model.value(s))
                    })
                    .sum();
                (c, if phi <= NOISE { 0.0 } else { phi })
            })
            .collect()
    }

    fn check_weights(w: &[f64], n: usize) -> Result<(), TestCaseError> {
        prop_assert_eq!(w.len(), n);
        prop_assert!(w.iter().all(|x| (0.0..=1.0).contains(x)), "{:?}", w);
        let sum: f64 = w.iter().sum();
        prop_assert!((sum - 1.0).abs() <= 1e-9, "sum {} of {:?}", sum, w);
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(128))]

        #[test]
        fn training_does_not_depend_on_the_order_of_the_paths(
            (paths, shuffled) in paths().prop_flat_map(|p| (Just(p.clone()), Just(p).prop_shuffle()))
        ) {
            prop_assert_eq!(train(window(), &shuffled), train(window(), &paths));
        }

        #[test]
        fn doubling_every_path_doubles_the_counts_and_keeps_the_model(paths in paths()) {
            let once = train(window(), &paths);
            let doubled: Vec<Path> = paths.iter().chain(&paths).cloned().collect();
            let twice = train(window(), &doubled);
            prop_assert_eq!(twice.converting_paths, 2 * once.converting_paths);
            prop_assert_eq!(twice.non_converting_paths, 2 * once.non_converting_paths);
            prop_assert!(close(twice.conversion_probability, once.conversion_probability));
            prop_assert_eq!(twice.channels.len(), once.channels.len());
            for (a, b) in twice.channels.iter().zip(&once.channels) {
                prop_assert_eq!(a.channel, b.channel);
                prop_assert!(close(a.removal_effect, b.removal_effect), "{:?} {:?}", a, b);
                prop_assert!(close(a.markov_share, b.markov_share), "{:?} {:?}", a, b);
                prop_assert!(close(a.shapley_share, b.shapley_share), "{:?} {:?}", a, b);
            }
            for (a, b) in twice.coalitions.iter().zip(&once.coalitions) {
                prop_assert_eq!(a.channels, b.channels);
                prop_assert!(close(a.value(), b.value()));
            }
        }

        #[test]
        fn removal_effects_are_in_range_and_shares_sum_to_one(paths in paths()) {
            let model = train(window(), &paths);
            prop_assert!(model.channels.iter().all(|s| (0.0..=1.0).contains(&s.removal_effect)));
            let markov: f64 = model.channels.iter().map(|s| s.markov_share).sum();
            let shapley: f64 = model.channels.iter().map(|s| s.shapley_share).sum();
            if model.conversion_probability > 0.0 {
                prop_assert!((markov - 1.0).abs() <= 1e-9, "{}", markov);
                prop_assert!((shapley - 1.0).abs() <= 1e-9, "{}", shapley);
                // Every converting path has a channel that earned something.
                prop_assert_eq!(model.fallbacks, 0);
            } else {
                prop_assert_eq!(markov, 0.0);
                prop_assert_eq!(shapley, 0.0);
            }
            for s in &model.transitions {
                prop_assert!(s.probability > 0.0 && s.probability <= 1.0);
            }
        }

        #[test]
        fn weights_are_non_negative_and_sum_to_one(paths in paths(), conversion in channels()) {
            let model = train(window(), &paths);
            for channels in paths.iter().map(|p| &p.channels).chain([&conversion]) {
                let (w, _) = markov_weights(&model, channels);
                check_weights(&w, channels.len())?;
                check_weights(&shapley_weights(&model, channels), channels.len())?;
            }
        }

        #[test]
        fn shapley_matches_the_formula_term_by_term(paths in paths(), conversion in channels()) {
            let model = train(window(), &paths);
            let set = ChannelSet::of(&conversion);
            let phi = reference_phi(&model, set);
            let total: f64 = phi.iter().map(|(_, p)| p).sum();
            let shares = model.shapley_set_shares(set);
            for (c, p) in phi {
                let expected = if total > NOISE { p / total } else { 1.0 / set.len() as f64 };
                prop_assert!(
                    (shares[index(c)] - expected).abs() <= 1e-9,
                    "{}: {} vs {}", c, shares[index(c)], expected
                );
            }
        }

        #[test]
        fn two_channels_that_always_appear_together_get_equal_shapley_shares(
            paths in paths(),
            conversion in channels(),
        ) {
            // AFFILIATES rides along with every PAID_SEARCH touchpoint.
            let tagged = |cs: &[Channel]| -> Vec<Channel> {
                cs.iter()
                    .flat_map(|&c| if c == PS { vec![c, Channel::Affiliates] } else { vec![c] })
                    .collect()
            };
            let paths: Vec<Path> = paths
                .iter()
                .map(|p| Path { channels: tagged(&p.channels), converted: p.converted })
                .collect();
            let model = train(window(), &paths);
            let mut conversion = tagged(&conversion);
            conversion.push(PS);
            conversion.push(Channel::Affiliates);
            let w = shapley_weights(&model, &conversion);
            let credit = |c: Channel| -> f64 {
                conversion.iter().zip(&w).filter(|(x, _)| **x == c).map(|(_, w)| w).sum()
            };
            prop_assert!((credit(PS) - credit(Channel::Affiliates)).abs() <= 1e-12);
            let share = |c: Channel| model.channels.iter().find(|s| s.channel == c).map_or(0.0, |s| s.shapley_share);
            prop_assert!((share(PS) - share(Channel::Affiliates)).abs() <= 1e-12);
        }
    }
}
