//! Tests of the attribution engine: hand-computed journeys and properties.

use chrono::{DateTime, Duration, TimeZone, Utc};

use super::*;
use crate::domain::Channel;

fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 3, 1, 10, 0, 0).unwrap()
}

fn minutes(m: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(m)
}

fn pv(
    fp: &str,
    at: DateTime<Utc>,
    url: &str,
    source: &str,
    medium: &str,
    channel: Channel,
) -> PageviewFact {
    let direct = source == "(direct)";
    PageviewFact {
        fingerprint: fp.to_owned(),
        at,
        url: format!("https://app.example.com{url}"),
        landing_page: url.to_owned(),
        referrer_url: if direct {
            None
        } else {
            Some(format!("https://{source}/"))
        },
        source: source.to_owned(),
        medium: medium.to_owned(),
        campaign: if medium == "paid" {
            Some("spring".to_owned())
        } else {
            None
        },
        content: None,
        term: None,
        channel,
        rule: channel.as_str().to_lowercase(),
    }
}

fn direct(fp: &str, at: DateTime<Utc>, url: &str) -> PageviewFact {
    pv(fp, at, url, "(direct)", "(none)", Channel::Direct)
}

fn paid_social(fp: &str, at: DateTime<Utc>) -> PageviewFact {
    pv(fp, at, "/", "facebook", "paid", Channel::PaidSocial)
}

fn organic_search(fp: &str, at: DateTime<Utc>) -> PageviewFact {
    pv(fp, at, "/blog", "google", "organic", Channel::OrganicSearch)
}

fn ev(name: &str, fp: &str, at: DateTime<Utc>) -> EventFact {
    EventFact {
        name: name.to_owned(),
        fingerprint: fp.to_owned(),
        user_id: Some("u1".to_owned()),
        at,
    }
}

fn assert_weights(model: Model, actual: &[f64], expected: &[f64]) {
    assert_eq!(actual.len(), expected.len(), "{model}: {actual:?}");
    for (a, e) in actual.iter().zip(expected) {
        assert!(
            (a - e).abs() < 1e-12,
            "{model}: got {actual:?}, expected {expected:?}"
        );
    }
    assert_eq!(actual.iter().sum::<f64>(), 1.0, "{model}: {actual:?}");
}

fn channels(tps: &[Touchpoint]) -> Vec<Channel> {
    tps.iter().map(|t| t.channel).collect()
}

/// Paid social, organic search 3 days later, direct 1 day later, signup 1 hour later.
fn reference_journey() -> (Vec<PageviewFact>, Vec<EventFact>) {
    let day = 24 * 60;
    let pageviews = vec![
        paid_social("a", minutes(0)),
        direct("a", minutes(2), "/pricing"),
        organic_search("a", minutes(3 * day)),
        direct("a", minutes(4 * day), "/"),
        direct("a", minutes(4 * day + 5), "/signup"),
    ];
    let events = vec![ev("signup", "a", minutes(4 * day + 60))];
    (pageviews, events)
}

#[test]
fn every_model_credits_the_reference_journey_as_computed_by_hand() {
    let (pageviews, events) = reference_journey();
    let convs = conversions(&pageviews, &events, &Settings::default());
    assert_eq!(convs.len(), 1);
    let c = &convs[0];
    assert_eq!(
        channels(&c.touchpoints),
        [Channel::PaidSocial, Channel::OrganicSearch, Channel::Direct]
    );
    // 4 days 1 hour from the paid social click to the signup.
    assert_eq!(c.time_to_convert_seconds, Some(4 * 86_400 + 3_600));

    // TIME_DECAY by hand: ages are 97 h, 25 h and 1 h; a week is 168 h.
    //   2^(-97/168) = 0.6701793075…, 2^(-25/168) = 0.9019944590…, 2^(-1/168) = 0.9958826236…
    //   sum = 2.5680563902…
    //   weights = 0.2609675200…, 0.3512362355…, 0.3877962444…
    let expected: [(Model, [f64; 3]); 6] = [
        (Model::FirstClick, [1.0, 0.0, 0.0]),
        (Model::LastClick, [0.0, 0.0, 1.0]),
        (Model::LastNonDirectClick, [0.0, 1.0, 0.0]),
        (Model::Linear, [1.0 / 3.0, 1.0 / 3.0, 1.0 / 3.0]),
        (Model::PositionBased, [0.4, 0.2, 0.4]),
        (
            Model::TimeDecay,
            [
                0.260_967_520_049_839_4,
                0.351_236_235_505_867_13,
                0.387_796_244_444_293_45,
            ],
        ),
    ];
    for (model, w) in expected {
        assert_weights(model, &c.weights(model), &w);
    }

    assert_eq!(
        c.first_click().map(|t| t.channel),
        Some(Channel::PaidSocial)
    );
    assert_eq!(c.last_click().map(|t| t.channel), Some(Channel::Direct));
    assert_eq!(
        c.last_non_direct_click().map(|t| t.channel),
        Some(Channel::OrganicSearch)
    );
    assert_eq!(
        c.single_touch(Model::LastNonDirectClick).map(|t| t.channel),
        Some(Channel::OrganicSearch)
    );
    assert_eq!(c.single_touch(Model::Linear), None);

    let credits = c.credits(Model::LastNonDirectClick);
    assert_eq!(credits.len(), 1);
    assert_eq!(credits[0].0.channel, Channel::OrganicSearch);
    assert_eq!(credits[0].1, 1.0);
    assert_eq!(c.credits(Model::PositionBased).len(), 3);
}

#[test]
fn touchpoints_of_two_devices_of_one_user_are_merged_in_time_order() {
    let pageviews = vec![
        direct("phone", minutes(10), "/"),
        paid_social("laptop", minutes(0)),
        organic_search("laptop", minutes(20)),
        direct("laptop", minutes(21), "/pricing"),
    ];
    let tps = touchpoints(&pageviews, Duration::minutes(30));
    let got: Vec<(&str, Channel)> = tps
        .iter()
        .map(|t| (t.fingerprint.as_str(), t.channel))
        .collect();
    assert_eq!(
        got,
        [
            ("laptop", Channel::PaidSocial),
            // The phone's first pageview opens the phone's own session.
            ("phone", Channel::Direct),
            ("laptop", Channel::OrganicSearch),
        ]
    );
}

#[test]
fn a_signup_delivered_before_its_pageviews_gives_the_same_result_in_any_input_order() {
    let (pageviews, events) = reference_journey();
    let expected = conversions(&pageviews, &events, &Settings::default());
    let mut reversed = pageviews.clone();
    reversed.reverse();
    assert_eq!(
        conversions(&reversed, &events, &Settings::default()),
        expected
    );
    let mut rotated = pageviews.clone();
    rotated.rotate_left(2);
    assert_eq!(
        conversions(&rotated, &events, &Settings::default()),
        expected
    );
    assert_eq!(expected[0].touchpoints.len(), 3);
}

#[test]
fn a_touchpoint_outside_the_lookback_window_is_excluded_and_a_longer_lookback_includes_it() {
    let day = 24 * 60;
    let pageviews = vec![
        paid_social("a", minutes(0)),
        organic_search("a", minutes(20 * day)),
    ];
    let events = vec![ev("signup", "a", minutes(31 * day))];
    let settings = Settings::default();
    let convs = conversions(&pageviews, &events, &settings);
    assert_eq!(channels(&convs[0].touchpoints), [Channel::OrganicSearch]);
    assert_eq!(convs[0].time_to_convert_seconds, Some(11 * 86_400));
    assert_eq!(convs[0].pageviews_before, 1);

    let longer = Settings {
        lookback: Duration::days(31),
        ..settings.clone()
    };
    let convs_longer = conversions(&pageviews, &events, &longer);
    assert_eq!(
        channels(&convs_longer[0].touchpoints),
        [Channel::PaidSocial, Channel::OrganicSearch]
    );
    assert_eq!(convs_longer[0].pageviews_before, 2);

    // The cheap path gives the same answer as recomputing everything.
    let journey = Journey::new(&pageviews, &events, settings.session_timeout);
    assert_eq!(
        journey.reevaluate(&convs[0], Duration::days(31)),
        convs_longer[0]
    );
    assert_eq!(
        journey.reevaluate(&convs_longer[0], Duration::days(30)),
        convs[0]
    );
}

#[test]
fn the_lookback_boundary_is_inclusive() {
    let pageviews = vec![paid_social("a", minutes(0))];
    let events = vec![ev("signup", "a", minutes(30 * 24 * 60))];
    let convs = conversions(&pageviews, &events, &Settings::default());
    assert_eq!(convs[0].touchpoints.len(), 1);
}

#[test]
fn a_touchpoint_at_the_conversion_instant_is_in_play_and_later_ones_are_not() {
    let pageviews = vec![
        paid_social("a", minutes(0)),
        organic_search("a", minutes(90)),
    ];
    let events = vec![ev("signup", "a", minutes(0))];
    let c = &conversions(&pageviews, &events, &Settings::default())[0];
    assert_eq!(channels(&c.touchpoints), [Channel::PaidSocial]);
    assert_eq!(c.time_to_convert_seconds, Some(0));
    assert_eq!((c.pageviews_before, c.pageviews_after), (1, 1));
}

#[test]
fn a_signup_without_pageviews_has_no_touchpoints_time_to_convert_credits_or_clicks() {
    let convs = conversions(&[], &[ev("signup", "a", minutes(0))], &Settings::default());
    assert_eq!(convs.len(), 1);
    let c = &convs[0];
    assert!(c.touchpoints.is_empty());
    assert_eq!(c.time_to_convert_seconds, None);
    assert_eq!((c.pageviews_before, c.pageviews_after), (0, 0));
    for model in Model::ALL {
        assert!(c.weights(model).is_empty());
        assert!(c.credits(model).is_empty());
        assert_eq!(c.single_touch(model), None);
    }
    assert_eq!(c.first_click(), None);
    assert_eq!(c.last_click(), None);
    assert_eq!(c.last_non_direct_click(), None);
}

#[test]
fn internal_navigation_within_the_session_timeout_is_not_a_touchpoint() {
    let pageviews = vec![
        paid_social("a", minutes(0)),
        direct("a", minutes(10), "/pricing"),
        direct("a", minutes(35), "/features"),
        direct("a", minutes(60), "/signup"),
    ];
    let tps = touchpoints(&pageviews, Duration::minutes(30));
    assert_eq!(channels(&tps), [Channel::PaidSocial]);
}

#[test]
fn a_gap_longer_than_the_session_timeout_starts_a_direct_touchpoint() {
    let pageviews = vec![
        paid_social("a", minutes(0)),
        direct("a", minutes(31), "/pricing"),
    ];
    let tps = touchpoints(&pageviews, Duration::minutes(30));
    assert_eq!(channels(&tps), [Channel::PaidSocial, Channel::Direct]);
    assert!(tps[1].is_direct());
    assert_eq!(tps[1].at, minutes(31));
    assert_eq!(tps[1].landing_page, "/pricing");
}

#[test]
fn a_gap_of_exactly_the_session_timeout_stays_in_the_same_session() {
    let pageviews = vec![
        paid_social("a", minutes(0)),
        direct("a", minutes(30), "/pricing"),
    ];
    let tps = touchpoints(&pageviews, Duration::minutes(30));
    assert_eq!(channels(&tps), [Channel::PaidSocial]);
}

#[test]
fn a_marketing_pageview_inside_a_session_starts_a_new_touchpoint() {
    let pageviews = vec![
        direct("a", minutes(0), "/"),
        direct("a", minutes(5), "/pricing"),
        organic_search("a", minutes(6)),
        direct("a", minutes(7), "/docs"),
    ];
    let tps = touchpoints(&pageviews, Duration::minutes(30));
    assert_eq!(channels(&tps), [Channel::Direct, Channel::OrganicSearch]);
}

#[test]
fn identical_duplicate_pageviews_produce_one_touchpoint() {
    let p = paid_social("a", minutes(0));
    let tps = touchpoints(&[p.clone(), p.clone(), p], Duration::minutes(30));
    assert_eq!(tps.len(), 1);
}

#[test]
fn a_signup_after_a_trial_is_from_trial() {
    let events = vec![ev("signup", "a", minutes(60)), ev("trial", "a", minutes(0))];
    let convs = conversions(&[], &events, &Settings::default());
    let names: Vec<(&str, bool)> = convs
        .iter()
        .map(|c| (c.name.as_str(), c.from_trial))
        .collect();
    assert_eq!(names, [("trial", false), ("signup", true)]);
}

#[test]
fn a_signup_before_a_trial_is_not_from_trial() {
    let events = vec![ev("trial", "a", minutes(60)), ev("signup", "a", minutes(0))];
    let convs = conversions(&[], &events, &Settings::default());
    let names: Vec<(&str, bool)> = convs
        .iter()
        .map(|c| (c.name.as_str(), c.from_trial))
        .collect();
    assert_eq!(names, [("signup", false), ("trial", false)]);
}

#[test]
fn a_trial_at_the_same_instant_as_the_signup_does_not_make_it_from_trial() {
    let events = vec![ev("trial", "a", minutes(0)), ev("signup", "a", minutes(0))];
    let convs = conversions(&[], &events, &Settings::default());
    assert!(convs.iter().all(|c| !c.from_trial));
}

#[test]
fn a_trial_counts_for_from_trial_even_when_trials_are_not_conversions() {
    let settings = Settings {
        conversion_events: vec!["signup".to_owned()],
        ..Settings::default()
    };
    let events = vec![ev("trial", "a", minutes(0)), ev("signup", "a", minutes(5))];
    let convs = conversions(&[], &events, &settings);
    assert_eq!(convs.len(), 1);
    assert!(convs[0].from_trial);
}

#[test]
fn pageviews_before_and_after_count_the_users_distinct_pageviews_around_the_conversion() {
    let day = 24 * 60;
    let pageviews = vec![
        direct("a", minutes(-40 * day), "/old"), // outside the 30-day lookback
        paid_social("a", minutes(0)),
        paid_social("a", minutes(0)), // identical duplicate
        direct("b", minutes(5), "/pricing"),
        direct("a", minutes(60), "/signup"), // at the conversion instant: before
        direct("a", minutes(61), "/welcome"),
        direct("b", minutes(2 * day), "/app"),
    ];
    let events = vec![ev("signup", "a", minutes(60))];
    let c = &conversions(&pageviews, &events, &Settings::default())[0];
    assert_eq!(c.pageviews_before, 3);
    assert_eq!(c.pageviews_after, 2);
}

#[test]
fn last_non_direct_click_credits_the_last_touchpoint_when_all_are_direct() {
    let pageviews = vec![
        direct("a", minutes(0), "/"),
        direct("a", minutes(120), "/pricing"),
        direct("a", minutes(240), "/signup"),
    ];
    let events = vec![ev("signup", "a", minutes(241))];
    let c = &conversions(&pageviews, &events, &Settings::default())[0];
    assert_eq!(c.touchpoints.len(), 3);
    assert_weights(
        Model::LastNonDirectClick,
        &c.weights(Model::LastNonDirectClick),
        &[0.0, 0.0, 1.0],
    );
    assert_eq!(c.last_non_direct_click().map(|t| t.at), Some(minutes(240)));
}

#[test]
fn position_based_gives_everything_to_one_halves_to_two_and_forty_twenty_forty_to_more() {
    let tps: Vec<Touchpoint> = (0..4)
        .map(|i| Touchpoint::from(&paid_social("a", minutes(i * 60))))
        .collect();
    let at = minutes(300);
    assert_weights(
        Model::PositionBased,
        &weights(Model::PositionBased, &tps[..1], at),
        &[1.0],
    );
    assert_weights(
        Model::PositionBased,
        &weights(Model::PositionBased, &tps[..2], at),
        &[0.5, 0.5],
    );
    assert_weights(
        Model::PositionBased,
        &weights(Model::PositionBased, &tps, at),
        &[0.4, 0.1, 0.1, 0.4],
    );
}

#[test]
fn time_decay_halves_the_credit_per_week_of_age() {
    let tps = vec![
        Touchpoint::from(&paid_social("a", minutes(0))),
        Touchpoint::from(&organic_search("a", minutes(7 * 24 * 60))),
    ];
    // Ages 14 and 7 days: raw 1/4 and 1/2, normalised 1/3 and 2/3.
    let w = weights(Model::TimeDecay, &tps, minutes(14 * 24 * 60));
    assert_weights(Model::TimeDecay, &w, &[1.0 / 3.0, 2.0 / 3.0]);
}

#[test]
fn time_decay_survives_touchpoints_centuries_old() {
    let tps = vec![
        Touchpoint::from(&paid_social("a", minutes(0))),
        Touchpoint::from(&organic_search("a", minutes(1))),
    ];
    let w = weights(Model::TimeDecay, &tps, t0() + Duration::days(365 * 500));
    assert_eq!(w.iter().sum::<f64>(), 1.0);
    assert!(w.iter().all(|x| x.is_finite() && (0.0..=1.0).contains(x)));
}

#[test]
fn time_to_convert_is_floored_to_whole_seconds() {
    let pageviews = vec![paid_social("a", minutes(0))];
    let events = vec![ev("signup", "a", minutes(1) + Duration::milliseconds(999))];
    let c = &conversions(&pageviews, &events, &Settings::default())[0];
    assert_eq!(c.time_to_convert_seconds, Some(60));
}

#[test]
fn identical_events_collapse_and_only_configured_events_are_conversions() {
    let events = vec![
        ev("signup", "a", minutes(5)),
        ev("signup", "a", minutes(5)),
        ev("pageview_click", "a", minutes(1)),
        ev("trial", "a", minutes(2)),
    ];
    let convs = conversions(&[], &events, &Settings::default());
    let names: Vec<&str> = convs.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["trial", "signup"]);
}

#[test]
fn first_signup_is_the_earliest_signup_conversion() {
    let events = vec![
        ev("signup", "b", minutes(90)),
        ev("trial", "a", minutes(0)),
        ev("signup", "a", minutes(30)),
    ];
    let convs = conversions(&[], &events, &Settings::default());
    let first = first_signup(&convs);
    assert_eq!(
        first.map(|c| (c.fingerprint.as_str(), c.at)),
        Some(("a", minutes(30)))
    );
    assert_eq!(first_signup(&convs[..1]), None);
}

#[test]
fn extreme_lookbacks_and_timeouts_do_not_panic() {
    let (pageviews, events) = reference_journey();
    for lookback in [
        Duration::MIN,
        Duration::days(-1),
        Duration::zero(),
        Duration::MAX,
    ] {
        for session_timeout in [Duration::MIN, Duration::zero(), Duration::MAX] {
            let settings = Settings {
                lookback,
                session_timeout,
                ..Settings::default()
            };
            let convs = conversions(&pageviews, &events, &settings);
            assert_eq!(convs.len(), 1);
            if lookback < Duration::zero() {
                assert!(convs[0].touchpoints.is_empty());
                assert_eq!(convs[0].pageviews_before, 0);
            }
        }
    }
}

#[test]
fn models_round_trip_through_their_api_names() {
    for m in Model::ALL {
        assert_eq!(m.as_str().parse::<Model>(), Ok(m));
        assert_eq!(m.is_single_touch(), m.single_touch_name_is_a_click());
    }
    assert!("nope".parse::<Model>().is_err());
}

impl Model {
    fn single_touch_name_is_a_click(self) -> bool {
        self.as_str().ends_with("_CLICK")
    }
}

mod properties {
    use proptest::prelude::*;
    use proptest::sample::Index;

    use super::*;

    const SOURCES: [(&str, &str, Channel); 5] = [
        ("(direct)", "(none)", Channel::Direct),
        ("(direct)", "(none)", Channel::Direct),
        ("facebook", "paid", Channel::PaidSocial),
        ("google", "organic", Channel::OrganicSearch),
        ("newsletter", "email", Channel::Email),
    ];
    const URLS: [&str; 3] = ["/", "/pricing", "/signup"];
    const FINGERPRINTS: [&str; 2] = ["laptop", "phone"];
    const EVENTS: [&str; 3] = ["signup", "trial", "invite"];

    fn pageview() -> impl Strategy<Value = PageviewFact> {
        // Minutes over ~50 days, clustered enough for sessions to form.
        (0..2usize, 0i64..72_000, 0..3usize, 0..5usize).prop_map(|(f, m, u, s)| {
            let (source, medium, channel) = SOURCES[s];
            pv(
                FINGERPRINTS[f],
                minutes(m - m % 7),
                URLS[u],
                source,
                medium,
                channel,
            )
        })
    }

    fn event() -> impl Strategy<Value = EventFact> {
        (0..2usize, 0i64..72_000, 0..3usize)
            .prop_map(|(f, m, e)| ev(EVENTS[e], FINGERPRINTS[f], minutes(m - m % 11)))
    }

    fn journey() -> impl Strategy<Value = (Vec<PageviewFact>, Vec<EventFact>)> {
        (
            prop::collection::vec(pageview(), 0..40),
            prop::collection::vec(event(), 0..6),
        )
    }

    /// A journey, plus the same facts shuffled with some of them duplicated.
    fn scrambled() -> impl Strategy<
        Value = (
            Vec<PageviewFact>,
            Vec<EventFact>,
            Vec<PageviewFact>,
            Vec<EventFact>,
        ),
    > {
        (
            journey(),
            prop::collection::vec(any::<Index>(), 0..6),
            prop::collection::vec(any::<Index>(), 0..3),
        )
            .prop_flat_map(|((pvs, evs), dup_pvs, dup_evs)| {
                let mut more_pvs = pvs.clone();
                if !pvs.is_empty() {
                    more_pvs.extend(dup_pvs.iter().map(|i| pvs[i.index(pvs.len())].clone()));
                }
                let mut more_evs = evs.clone();
                if !evs.is_empty() {
                    more_evs.extend(dup_evs.iter().map(|i| evs[i.index(evs.len())].clone()));
                }
                (
                    Just(pvs),
                    Just(evs),
                    Just(more_pvs).prop_shuffle(),
                    Just(more_evs).prop_shuffle(),
                )
            })
    }

    fn check_weights(tps: &[Touchpoint], at: DateTime<Utc>) -> Result<(), TestCaseError> {
        for model in Model::ALL {
            let w = weights(model, tps, at);
            prop_assert_eq!(w.len(), tps.len(), "{}", model);
            if tps.is_empty() {
                continue;
            }
            prop_assert!(
                w.iter().all(|x| (0.0..=1.0).contains(x)),
                "{}: {:?}",
                model,
                w
            );
            let sum: f64 = w.iter().sum();
            prop_assert!(
                (sum - 1.0).abs() <= 1e-12,
                "{}: sum {} of {:?}",
                model,
                sum,
                w
            );
            prop_assert_eq!(sum, 1.0, "{}: {:?}", model, w);
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(96))]

        #[test]
        fn shuffling_and_duplicating_facts_does_not_change_the_conversions(
            (pvs, evs, more_pvs, more_evs) in scrambled()
        ) {
            let settings = Settings::default();
            prop_assert_eq!(
                conversions(&more_pvs, &more_evs, &settings),
                conversions(&pvs, &evs, &settings)
            );
            prop_assert_eq!(
                touchpoints(&more_pvs, settings.session_timeout),
                touchpoints(&pvs, settings.session_timeout)
            );
        }

        #[test]
        fn conversion_weights_are_in_range_sum_to_one_and_match_the_touchpoints(
            (pvs, evs) in journey()
        ) {
            for c in conversions(&pvs, &evs, &Settings::default()) {
                check_weights(&c.touchpoints, c.at)?;
                for model in Model::ALL {
                    prop_assert_eq!(c.weights(model).len(), c.touchpoints.len());
                }
                let window_start = c.at - Duration::days(30);
                prop_assert!(c.touchpoints.iter().all(|t| t.at <= c.at && t.at >= window_start));
                prop_assert!(c.touchpoints.windows(2).all(|p| p[0].at <= p[1].at));
            }
        }

        #[test]
        fn weights_of_any_touchpoint_list_are_in_range_and_sum_to_one(
            pvs in prop::collection::vec(pageview(), 0..60),
            after_minutes in 0i64..200_000,
        ) {
            let tps: Vec<Touchpoint> = pvs.iter().map(Touchpoint::from).collect();
            check_weights(&tps, minutes(72_000 + after_minutes))?;
        }
    }
}
