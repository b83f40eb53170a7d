//! The generator's promises: determinism, valid payloads inside the range,
//! and a traffic mix realistic enough for attribution to say something.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use url::Url;

use super::generator::{spend, visitors, Params, VisitorTraffic};
use crate::domain::{parse_timestamp, Channel, NewEvent, NewPageview};
use crate::ingest::classify::classify;

fn params(visitors: u32, seed: u64) -> Params {
    Params {
        visitors,
        days: 60,
        seed,
        end: NaiveDate::from_ymd_opt(2024, 3, 31).expect("a valid date"),
    }
}

fn all(params: &Params) -> Vec<VisitorTraffic> {
    visitors(params).collect()
}

fn channel_of(url: &str, referrer: Option<&str>) -> (Channel, Option<String>) {
    let url = Url::parse(url).expect("generated URLs parse");
    let referrer = referrer.map(|r| Url::parse(r).expect("generated referrers parse"));
    let c = classify(&url, referrer.as_ref(), &[]);
    (c.channel, c.campaign)
}

#[test]
fn the_same_params_give_identical_traffic_and_spend() {
    let p = params(300, 7);
    assert_eq!(all(&p), all(&p));
    assert_eq!(spend(&p), spend(&p));
}

#[test]
fn a_visitor_does_not_depend_on_how_many_come_after_it() {
    let short = all(&params(50, 7));
    let long = all(&params(300, 7));
    assert_eq!(short[..], long[..50]);
}

#[test]
fn a_different_seed_gives_different_traffic_and_spend() {
    assert_ne!(all(&params(50, 7)), all(&params(50, 8)));
    assert_ne!(spend(&params(50, 7)), spend(&params(50, 8)));
}

#[test]
fn every_payload_is_valid_and_falls_inside_the_date_range() {
    let p = params(1_000, 42);
    let (start, end) = (p.start(), p.end_exclusive());
    assert_eq!(end - start, chrono::TimeDelta::days(60));
    for traffic in visitors(&p) {
        for raw in &traffic.pageviews {
            let pv = NewPageview::try_from(raw.clone())
                .unwrap_or_else(|e| panic!("invalid pageview {raw:?}: {e:?}"));
            assert!(pv.created_at >= start && pv.created_at < end, "{raw:?}");
            // Microseconds survive: what is sent is what is stored.
            let sent = raw.created_at.as_deref().expect("created_at is set");
            assert_eq!(sent.len(), "2024-02-01T00:00:00.000000Z".len(), "{sent}");
        }
        for raw in &traffic.events {
            let ev = NewEvent::try_from(raw.clone())
                .unwrap_or_else(|e| panic!("invalid event {raw:?}: {e:?}"));
            assert!(ev.created_at >= start && ev.created_at < end, "{raw:?}");
            assert!(ev.user_id.is_some(), "events belong to accounts: {raw:?}");
        }
    }
}

#[test]
fn fingerprints_look_like_uuids_and_user_ids_like_object_ids() {
    for traffic in visitors(&params(300, 42)) {
        for pv in &traffic.pageviews {
            let fp = pv.fingerprint.as_deref().expect("fingerprint is set");
            let groups: Vec<usize> = fp.split('-').map(str::len).collect();
            assert_eq!(groups, [8, 4, 4, 4, 12], "{fp}");
            assert!(fp.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
            if let Some(user) = &pv.user_id {
                assert_eq!(user.len(), 24, "{user}");
                assert!(user.chars().all(|c| c.is_ascii_hexdigit()));
            }
        }
    }
}

/// The mix over 2,000 visitors, as the issue describes it.
struct Mix {
    visitors: usize,
    pageviews: usize,
    channels: BTreeMap<Channel, usize>,
    campaigns: BTreeSet<String>,
    signups: usize,
    paid_signups: usize,
    two_devices_stitched: usize,
    trials: usize,
    unsubscribes: usize,
    internal_navigation: usize,
}

fn mix() -> Mix {
    let p = params(2_000, 42);
    let mut mix = Mix {
        visitors: 0,
        pageviews: 0,
        channels: BTreeMap::new(),
        campaigns: BTreeSet::new(),
        signups: 0,
        paid_signups: 0,
        two_devices_stitched: 0,
        trials: 0,
        unsubscribes: 0,
        internal_navigation: 0,
    };
    for traffic in visitors(&p) {
        mix.visitors += 1;
        mix.pageviews += traffic.pageviews.len();
        let mut first_channel = None;
        for pv in &traffic.pageviews {
            let url = pv.url.as_deref().expect("url is set");
            let referrer = pv.referrer_url.as_deref();
            if referrer.is_some_and(|r| r.starts_with(super::generator::SITE)) {
                mix.internal_navigation += 1;
            }
            let (channel, campaign) = channel_of(url, referrer);
            first_channel.get_or_insert(channel);
            *mix.channels.entry(channel).or_default() += 1;
            mix.campaigns.extend(campaign);
        }
        let named = |name: &str| {
            traffic
                .events
                .iter()
                .any(|e| e.name.as_deref() == Some(name))
        };
        if named("signup") {
            mix.signups += 1;
            if first_channel.is_some_and(Channel::is_paid) {
                mix.paid_signups += 1;
            }
        }
        mix.trials += usize::from(named("trial"));
        mix.unsubscribes += usize::from(named("unsubscribe"));
        let stitched: BTreeSet<_> = traffic
            .pageviews
            .iter()
            .filter(|pv| pv.user_id.is_some())
            .map(|pv| pv.fingerprint.clone())
            .collect();
        mix.two_devices_stitched += usize::from(stitched.len() > 1);
    }
    mix
}

#[test]
fn the_traffic_mix_is_realistic() {
    let mix = mix();
    assert!(
        mix.channels.len() >= 10,
        "only {} channels: {:?}",
        mix.channels.len(),
        mix.channels
    );
    let per_visitor = mix.pageviews as f64 / mix.visitors as f64;
    assert!(
        (6.0..=14.0).contains(&per_visitor),
        "{per_visitor} pageviews per visitor"
    );
    let signup_rate = mix.signups as f64 / mix.visitors as f64;
    assert!(
        (0.10..=0.30).contains(&signup_rate),
        "{signup_rate} signups per visitor"
    );
    let paid_share = mix.paid_signups as f64 / mix.signups as f64;
    assert!(
        paid_share > 0.2 && paid_share < 0.8,
        "paid share of signups {paid_share}"
    );
    assert!(
        (30..=50).contains(&mix.campaigns.len()),
        "{} campaigns: {:?}",
        mix.campaigns.len(),
        mix.campaigns
    );
}

#[test]
fn journeys_have_returns_second_devices_trials_and_unsubscribes() {
    let mix = mix();
    assert!(
        mix.two_devices_stitched > 0,
        "no second device was stitched"
    );
    assert!(
        mix.trials > 0 && mix.trials < mix.signups,
        "{} trials",
        mix.trials
    );
    // Unsubscribes are cancelled trials, early exits, churn and refunds:
    // within two months, a minority of those who signed up or tried.
    assert!(
        mix.unsubscribes > 0 && mix.unsubscribes < (mix.signups + mix.trials) / 3,
        "{} unsubscribes, {} signups, {} trials",
        mix.unsubscribes,
        mix.signups,
        mix.trials
    );
    assert!(
        mix.internal_navigation > mix.pageviews / 3,
        "most pageviews after a landing are internal navigation"
    );
}

#[test]
fn every_paid_channel_of_the_issue_appears() {
    let mix = mix();
    for channel in [
        Channel::PaidSearch,
        Channel::PaidSocial,
        Channel::PaidVideo,
        Channel::Display,
        Channel::Affiliates,
        Channel::OrganicVideo,
        Channel::Audio,
        Channel::Email,
        Channel::OrganicSearch,
        Channel::OrganicSocial,
        Channel::Referral,
        Channel::AiAssistants,
        Channel::Direct,
    ] {
        assert!(
            mix.channels.contains_key(&channel),
            "{channel} missing from {:?}",
            mix.channels
        );
    }
}

#[test]
fn spend_covers_every_paid_campaign_daily_with_decimal_amounts() {
    // Budgets are those of the standard dataset at 100,000 visitors.
    let p = Params {
        visitors: 100_000,
        ..params(10, 42)
    };
    let records = spend(&p);
    let first = p.start().date_naive();
    let last = p.end;
    let mut campaigns = BTreeSet::new();
    for r in &records {
        assert!(r.date >= first && r.date <= last, "{r:?}");
        let (units, cents) = r.amount.split_once('.').expect("two decimals");
        assert_eq!(cents.len(), 2, "{r:?}");
        let units: u64 = units.parse().expect("whole units");
        assert!(units > 0, "{r:?}");
        campaigns.insert(r.campaign.clone());
    }
    // Everything but our own two newsletters costs money.
    assert_eq!(campaigns.len(), 38, "{campaigns:?}");
    let brand_days = records
        .iter()
        .filter(|r| r.campaign == "gads_brand_en")
        .count();
    assert_eq!(brand_days, 60, "always-on campaigns spend every day");
    assert!(records
        .iter()
        .all(|r| !r.source.is_empty() && !r.medium.is_empty()));
}

#[test]
fn timestamps_parse_back_to_what_was_generated() {
    let traffic = visitors(&params(5, 1)).next().expect("one visitor");
    let raw = traffic.pageviews[0]
        .created_at
        .clone()
        .expect("created_at is set");
    let parsed = parse_timestamp(&raw).expect("parses");
    assert_eq!(
        parsed.to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        raw
    );
}

#[test]
fn spend_scales_with_the_number_of_visitors() {
    let total = |visitors| -> u64 {
        spend(&Params {
            visitors,
            ..params(10, 42)
        })
        .iter()
        .map(|r| {
            let (units, cents) = r.amount.split_once('.').unwrap();
            units.parse::<u64>().unwrap() * 100 + cents.parse::<u64>().unwrap()
        })
        .sum()
    };
    let (small, large) = (total(5_000), total(100_000));
    assert!(
        small * 15 < large && large < small * 25,
        "{small} vs {large}"
    );
}
