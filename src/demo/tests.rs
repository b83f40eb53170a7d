//! The generator's promises: determinism, valid payloads inside the range,
//! a traffic mix realistic enough for attribution to say something, and
//! subscriptions that bill, renew, churn and refund like a real business.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Months, NaiveDate, TimeDelta, Utc};
use url::Url;

use super::catalog::{
    self, Plan, Quality, CAMPAIGNS, MONTHLY, PREMIUM_MONTHLY, PREMIUM_YEARLY, YEARLY,
};
use super::generator::{spend, visitors, Params, VisitorTraffic};
use crate::domain::{parse_timestamp, Channel, NewEvent, NewPageview, RawEvent};
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
    let traffic = all(&p);
    assert_eq!(traffic, all(&p));
    assert_eq!(spend(&p), spend(&p));
    // The comparison covers amounts only if there are some.
    let payments = traffic
        .iter()
        .flat_map(|t| &t.events)
        .filter(|e| e.revenue.is_some())
        .count();
    assert!(payments > 0, "no event carries revenue");
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

// --- subscriptions ---

/// An event's instant.
fn at(event: &RawEvent) -> DateTime<Utc> {
    parse_timestamp(event.created_at.as_deref().expect("created_at is set")).expect("parses")
}

fn named<'a>(events: &'a [RawEvent], name: &str) -> impl Iterator<Item = &'a RawEvent> {
    let name = name.to_owned();
    events
        .iter()
        .filter(move |e| e.name.as_deref() == Some(name.as_str()))
}

/// An amount in cents, from the generator's two-decimal strings.
fn cents(event: &RawEvent) -> Option<i64> {
    let text = event.revenue.as_deref()?;
    let (units, fraction) = text.split_once('.').expect("two decimals");
    assert_eq!(fraction.len(), 2, "{text}");
    let magnitude = units.trim_start_matches('-').parse::<i64>().expect("units") * 100
        + fraction.parse::<i64>().expect("cents");
    Some(if units.starts_with('-') {
        -magnitude
    } else {
        magnitude
    })
}

const PLANS: [Plan; 4] = [MONTHLY, YEARLY, PREMIUM_MONTHLY, PREMIUM_YEARLY];

/// The plan a signup paid for.
fn plan_of(signup: &RawEvent) -> Plan {
    let paid = cents(signup).expect("a signup carries revenue");
    PLANS
        .into_iter()
        .find(|p| i64::from(p.cents) == paid)
        .unwrap_or_else(|| panic!("{paid} cents is no plan's price"))
}

/// Over two years, so that yearly plans renew too.
fn long_run() -> Vec<VisitorTraffic> {
    all(&Params {
        days: 800,
        ..params(1_500, 42)
    })
}

#[test]
fn a_signup_books_a_plan_price_and_other_journey_events_book_nothing() {
    let mut plans = BTreeSet::new();
    for traffic in visitors(&params(2_000, 42)) {
        let signups: Vec<_> = named(&traffic.events, "signup").collect();
        assert!(signups.len() <= 1, "{signups:?}");
        for signup in signups {
            assert!(cents(signup).is_some_and(|c| c > 0), "{signup:?}");
            plans.insert(plan_of(signup).name);
        }
        for e in named(&traffic.events, "trial").chain(named(&traffic.events, "unsubscribe")) {
            assert_eq!(e.revenue, None, "{e:?}");
        }
        assert!(traffic.events.iter().all(|e| e.currency.is_none()));
    }
    assert_eq!(plans.len(), PLANS.len(), "every plan is taken: {plans:?}");
}

#[test]
fn renewals_fall_on_the_plans_period_boundaries_at_its_price() {
    let mut renewed = BTreeMap::<&str, usize>::new();
    for traffic in long_run() {
        let renewals: Vec<_> = named(&traffic.events, "renewal").collect();
        let Some(signup) = named(&traffic.events, "signup").next() else {
            assert!(renewals.is_empty(), "renewals without a signup");
            continue;
        };
        let plan = plan_of(signup);
        let signed_up = at(signup);
        for (period, renewal) in (1u32..).zip(&renewals) {
            assert_eq!(cents(renewal), Some(i64::from(plan.cents)), "{renewal:?}");
            let due = signed_up
                .checked_add_months(Months::new(period * plan.months))
                .expect("in chrono's range");
            assert_eq!(at(renewal), due, "{} renewal {period}", plan.name);
        }
        *renewed.entry(plan.name).or_default() += renewals.len();
    }
    for plan in PLANS {
        assert!(
            renewed.get(plan.name).is_some_and(|&n| n > 0),
            "{renewed:?}"
        );
    }
}

#[test]
fn nothing_is_billed_after_an_unsubscribe_and_some_trials_never_pay() {
    let mut cancelled_trials = 0;
    let mut churned_after_paying = 0;
    for traffic in long_run() {
        let unsubscribes: Vec<_> = named(&traffic.events, "unsubscribe").collect();
        assert!(unsubscribes.len() <= 1, "{unsubscribes:?}");
        let Some(left) = unsubscribes.first().map(|e| at(e)) else {
            continue;
        };
        for e in named(&traffic.events, "signup").chain(named(&traffic.events, "renewal")) {
            assert!(at(e) < left, "{e:?} after unsubscribing at {left}");
        }
        let paid = named(&traffic.events, "signup").next().is_some();
        let trial = named(&traffic.events, "trial").next().is_some();
        cancelled_trials += usize::from(trial && !paid);
        churned_after_paying += usize::from(paid);
    }
    assert!(cancelled_trials > 0, "no trial was cancelled before paying");
    assert!(churned_after_paying > 0, "no subscriber churned");
}

#[test]
fn every_refund_reverses_one_earlier_payment_of_that_user_within_days() {
    let mut refunds = 0;
    for traffic in long_run() {
        let payments: Vec<_> = named(&traffic.events, "signup")
            .chain(named(&traffic.events, "renewal"))
            .collect();
        let mut reversed = BTreeSet::new();
        for refund in named(&traffic.events, "refund") {
            refunds += 1;
            let amount = cents(refund).expect("a refund carries revenue");
            assert!(amount < 0, "{refund:?}");
            let when = at(refund);
            let original = payments
                .iter()
                .position(|p| {
                    let gap = when - at(p);
                    cents(p) == Some(-amount)
                        && p.user_id == refund.user_id
                        && gap > TimeDelta::zero()
                        && gap <= TimeDelta::days(4)
                })
                .unwrap_or_else(|| panic!("{refund:?} reverses no payment of {payments:?}"));
            assert!(reversed.insert(original), "a payment refunded twice");
        }
    }
    assert!(refunds > 0, "no refunds");
}

#[test]
fn subscriptions_stop_at_the_end_of_the_range() {
    // Ranges from one day to two years: nothing on or after the end, though
    // many subscriptions would renew after it.
    for days in [1, 31, 800] {
        let p = Params {
            days,
            ..params(500, 3)
        };
        let end = p.end_exclusive();
        let mut last = None;
        for traffic in visitors(&p) {
            for e in &traffic.events {
                assert!(at(e) < end, "{e:?} at or after {end}");
                last = last.max(Some(at(e)));
            }
            let times: Vec<_> = traffic.events.iter().map(at).collect();
            assert!(times.is_sorted(), "events are in time order: {times:?}");
        }
        assert!(last.is_some(), "{days} days: no events at all");
    }
}

/// What a group of signups booked over the range, in cents.
#[derive(Default, Debug)]
struct Worth {
    signups: u64,
    revenue: i64,
}

impl Worth {
    fn per_signup(&self) -> i64 {
        self.revenue / i64::try_from(self.signups.max(1)).expect("small")
    }
}

/// Non-negative cents for a table.
fn money(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

/// Over 3,000 visitors of the default seed, grouped by what first brought
/// each visitor (the source whose quality they have). Prints its table with
/// `--nocapture`.
#[test]
fn channels_and_campaigns_differ_in_revenue_per_signup_not_only_in_cost() {
    let p = params(3_000, super::DEFAULT_SEED);
    let mut by_channel = BTreeMap::<Channel, Worth>::new();
    let mut by_quality = BTreeMap::<&str, Worth>::new();
    let quality_name = |q: Quality| match q {
        q if q == catalog::BARGAIN => "bargain",
        q if q == catalog::STEADY => "steady",
        q if q == catalog::LOYAL => "loyal",
        q if q == catalog::PROFESSIONAL => "professional",
        _ => unreachable!("the catalog has four profiles"),
    };
    let mut campaign_signups = BTreeMap::<String, u64>::new();
    let (mut signups, mut renewals, mut refunds) = (0, 0, 0);
    for traffic in visitors(&p) {
        let landing = &traffic.pageviews[0];
        let (channel, campaign) = channel_of(
            landing.url.as_deref().expect("url is set"),
            landing.referrer_url.as_deref(),
        );
        if named(&traffic.events, "signup").next().is_none() {
            continue;
        }
        signups += 1;
        renewals += named(&traffic.events, "renewal").count();
        refunds += named(&traffic.events, "refund").count();
        let revenue: i64 = traffic.events.iter().filter_map(cents).sum();
        let worth = by_channel.entry(channel).or_default();
        worth.signups += 1;
        worth.revenue += revenue;
        // Google's auto-tagged clicks name no campaign.
        if let Some(c) = campaign.and_then(|name| CAMPAIGNS.iter().find(|c| c.name == name)) {
            let worth = by_quality.entry(quality_name(c.quality)).or_default();
            worth.signups += 1;
            worth.revenue += revenue;
            *campaign_signups.entry(c.name.to_owned()).or_default() += 1;
        }
    }
    // Spend per signup of each profile's campaigns, in cents.
    let mut spent = BTreeMap::<&str, i64>::new();
    for record in spend(&p) {
        let c = CAMPAIGNS
            .iter()
            .find(|c| c.name == record.campaign)
            .expect("spend is on catalog campaigns");
        let amount = RawEvent {
            revenue: Some(record.amount),
            ..RawEvent::default()
        };
        *spent.entry(quality_name(c.quality)).or_default() += cents(&amount).expect("an amount");
    }
    let cost_per_signup = |q: &str| spent[q] / i64::try_from(by_quality[q].signups).expect("small");

    eprintln!("{signups} signups, {renewals} renewals, {refunds} refunds");
    for (channel, w) in &by_channel {
        eprintln!(
            "{channel:>16}: {:4} signups, {:>6} per signup",
            w.signups,
            money(w.per_signup())
        );
    }
    for (q, w) in &by_quality {
        eprintln!(
            "{q:>16}: {:4} signups, {:>6} per signup, cost {:>6} per signup",
            w.signups,
            money(w.per_signup()),
            money(spent.get(q).map_or(0, |_| cost_per_signup(q)))
        );
    }

    let social = by_channel[&Channel::PaidSocial].per_signup();
    for good in [Channel::OrganicSearch, Channel::Referral, Channel::Audio] {
        let worth = by_channel[&good].per_signup();
        assert!(
            worth > social * 3 / 2,
            "{good} {worth} vs paid social {social} per signup"
        );
    }
    let worth = |q: &str| by_quality[q].per_signup();
    assert!(
        worth("bargain") < worth("steady") && worth("steady") < worth("loyal"),
        "{by_quality:?}"
    );
    // Bargain signups cost less than professional ones, and return less of
    // what they cost: revenue / cost, compared by cross-multiplying.
    let (cheap, dear) = (cost_per_signup("bargain"), cost_per_signup("professional"));
    assert!(cheap * 2 < dear, "{spent:?} {by_quality:?}");
    assert!(
        worth("bargain") * dear * 3 / 2 < worth("professional") * cheap,
        "{spent:?} {by_quality:?}"
    );
    assert!(signups > 300 && renewals > 0 && refunds > 0);
}
