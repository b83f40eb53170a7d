//! The demo traffic generator: pure, deterministic, streaming.
//!
//! Why it is built this way:
//! - **Deterministic everywhere.** Each visitor draws from its own ChaCha8
//!   stream (`seed`, stream = visitor index), and every draw is an integer
//!   (weights are per mille, times are microseconds): no floats, no
//!   `HashMap` order, no clock. The same [`Params`] give byte-identical
//!   payloads on every platform, and visitor *i* does not depend on how many
//!   visitors come after it, so a 100-visitor run is a prefix of a 5,000 one.
//! - **Streaming.** [`visitors`] yields one visitor's traffic at a time, so the
//!   benchmark's 100k visitors (about a million pageviews) need no more memory
//!   than one visitor.
//! - **Realistic enough to exercise attribution.** About forty campaigns across
//!   search, social, video, audio, email, affiliate and display, organic
//!   search on several engines, organic social, referrals, AI assistants and
//!   direct; visitors come back over several sessions, some on a second
//!   device that a later login stitches to the account, some start a trial
//!   before signing up, and some unsubscribe. The mix lives in
//!   [`super::catalog`].
//! - **Subscriptions that differ in worth.** A subscriber takes a plan
//!   (monthly 9.99, yearly 79.99, premium 14.99 a month or 119.99 a year)
//!   and pays its price
//!   with the `signup` event; each later period boundary (the same day of
//!   the month, or of the year) books a `renewal` at the plan's price, until
//!   the subscriber unsubscribes or the range ends. Some trials are cancelled
//!   before any payment (an `unsubscribe` in place of the `signup`); some
//!   subscribers unsubscribe a few days after their last visit, others during
//!   a billing period; either way nothing renews after the `unsubscribe`. A
//!   few payments are followed within days by a `refund` of exactly their
//!   negative amount, and the refunded subscriber cancels. How likely each is
//!   depends on the [`super::catalog::Quality`] of the source that first
//!   brought the visitor, so channels differ in revenue per signup, and
//!   cheap signups are not always good ones. Amounts are integer cents,
//!   written as decimals (`"9.99"`, `"-9.99"`) in the deployment's currency.
//! - **Billing does not disturb the journeys.** Plans, churn and refunds draw
//!   from a second stream per visitor (`BILLING_STREAMS` + index), so tuning
//!   them leaves every pageview as it is. The one journey draw they read is
//!   the early-exit roll, a single draw whatever the source's rate.

use chrono::{
    DateTime, Datelike, Days, Months, NaiveDate, NaiveTime, SecondsFormat, TimeDelta, Utc,
};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::catalog::{self, Campaign, Cost, Organic, Plan, Platform, Quality, CAMPAIGNS};
use crate::domain::{RawEvent, RawPageview};

/// The demo site's origin.
pub const SITE: &str = "https://www.blinkist.com";

/// Longest date range generated (ten years); longer `days` are clamped.
pub const MAX_DAYS: u32 = 3650;

const SECOND: i64 = 1_000_000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;

/// The RNG stream spend draws from; visitors use streams `0..=u32::MAX`.
const SPEND_STREAM: u64 = u64::MAX;

/// Visitor *i*'s billing draws use stream `BILLING_STREAMS + i`: apart from
/// both the journeys' streams and spend's.
const BILLING_STREAMS: u64 = 1 << 32;

/// What to generate. The data is a function of these four values only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Params {
    /// Visitors (people, each with one or two browsers) to generate.
    pub visitors: u32,
    /// Days of traffic, ending with `end` (clamped to `1..=MAX_DAYS`).
    pub days: u32,
    /// Random seed.
    pub seed: u64,
    /// The last day with traffic (UTC); nothing is generated after it.
    pub end: NaiveDate,
}

impl Params {
    /// The first instant of the range: midnight UTC of its first day.
    pub fn start(&self) -> DateTime<Utc> {
        Window::of(self).start
    }

    /// The first instant after the range: midnight UTC after `end`.
    pub fn end_exclusive(&self) -> DateTime<Utc> {
        let window = Window::of(self);
        window.start + TimeDelta::microseconds(window.span)
    }
}

/// Everything one visitor did, in time order per kind.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VisitorTraffic {
    /// Pageview webhooks, as a tracker would send them.
    pub pageviews: Vec<RawPageview>,
    /// Event webhooks (`trial`, `signup`, `renewal`, `refund`,
    /// `unsubscribe`), all with a `user_id`; payments carry `revenue`.
    pub events: Vec<RawEvent>,
}

/// One day's spend on one campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpendRecord {
    /// `utm_campaign` of the campaign's links.
    pub campaign: String,
    /// `utm_source` of the campaign's links.
    pub source: String,
    /// `utm_medium` of the campaign's links.
    pub medium: String,
    /// The day spent (UTC).
    pub date: NaiveDate,
    /// Amount with two decimals, e.g. `"123.45"` (no currency: the account's).
    pub amount: String,
}

/// The visitors' traffic, one visitor at a time.
pub fn visitors(params: &Params) -> impl Iterator<Item = VisitorTraffic> {
    let window = Window::of(params);
    let seed = params.seed;
    (0..params.visitors).map(move |index| Visitor::new(seed, index, window).generate())
}

/// Daily spend of every campaign that costs money, ordered by date then
/// campaign, scaled to the number of visitors.
///
/// Always-on campaigns (search, social, video, display, affiliates) spend
/// their budget ±20% every day, a little less at weekends; sponsorships
/// (creators, podcasts, newsletters) are paid on their air or send days.
pub fn spend(params: &Params) -> Vec<SpendRecord> {
    let window = Window::of(params);
    let mut rng = ChaCha8Rng::seed_from_u64(params.seed);
    rng.set_stream(SPEND_STREAM);
    let first_day = window.start.date_naive();
    let mut records = Vec::new();
    for day in 0..window.days() {
        let Some(date) = first_day.checked_add_days(Days::new(u64::from(day))) else {
            break;
        };
        let weekend = date.weekday().number_from_monday() >= 6;
        for (index, campaign) in (0u32..).zip(CAMPAIGNS.iter()) {
            let cents = match campaign.cost {
                Cost::Free => continue,
                Cost::Daily(budget) => {
                    let factor = rng.random_range(80..=120u64);
                    let weekday = if weekend { 85 } else { 100 };
                    u64::from(budget) * factor * weekday / 10_000
                }
                Cost::Drops { cents, every } => {
                    // Campaigns air on different days of their cycle.
                    if (day + index) % every != 0 {
                        continue;
                    }
                    u64::from(cents) * rng.random_range(95..=105u64) / 100
                }
            };
            // Budgets are written for the standard dataset (100,000
            // visitors); a smaller demo buys proportionally fewer clicks, so
            // cost per signup stays plausible (tens of euros, not thousands).
            let cents = cents * u64::from(params.visitors.max(1)) / 100_000;
            if cents == 0 {
                continue;
            }
            records.push(SpendRecord {
                campaign: campaign.name.to_owned(),
                source: campaign.source.to_owned(),
                medium: campaign.medium.to_owned(),
                date,
                amount: format!("{}.{:02}", cents / 100, cents % 100),
            });
        }
    }
    records
}

/// The date range, as a start instant and a length in microseconds.
#[derive(Debug, Clone, Copy)]
struct Window {
    start: DateTime<Utc>,
    span: i64,
}

impl Window {
    fn of(params: &Params) -> Self {
        let days = params.days.clamp(1, MAX_DAYS);
        // At the edges of chrono's calendar the range shrinks rather than overflows.
        let after = params.end.succ_opt().unwrap_or(params.end);
        let first = after
            .checked_sub_days(Days::new(u64::from(days)))
            .unwrap_or(NaiveDate::MIN);
        let start = first.and_time(NaiveTime::MIN).and_utc();
        let end = after.and_time(NaiveTime::MIN).and_utc();
        // At most MAX_DAYS days: far from overflowing i64 microseconds.
        let span = (end - start).num_microseconds().unwrap_or(0);
        Self { start, span }
    }

    fn days(&self) -> u32 {
        u32::try_from(self.span / DAY).unwrap_or(0)
    }

    fn timestamp(&self, offset: i64) -> String {
        (self.start + TimeDelta::microseconds(offset)).to_rfc3339_opts(SecondsFormat::Micros, true)
    }
}

/// Where a session came from.
#[derive(Debug, Clone, Copy)]
enum Source {
    Campaign(&'static Campaign),
    Organic(Organic),
}

/// One visitor being generated: their RNG, browsers, account and state.
struct Visitor {
    rng: ChaCha8Rng,
    /// Plans, churn and refunds, drawn apart from the journey.
    billing: ChaCha8Rng,
    window: Window,
    /// One or two browser fingerprints.
    devices: Vec<String>,
    user_id: String,
    /// Which devices are logged in to the account.
    logged_in: [bool; 2],
    /// The device a trial started on, until it becomes a signup.
    trial_pending: Option<usize>,
    /// The device the visitor converted on.
    converted_on: Option<usize>,
    /// The plan they take if they pay.
    plan: Plan,
    /// A trial ends in an `unsubscribe` rather than a `signup`.
    cancels_trial: bool,
    /// When, and on which device, the first payment was made.
    paid: Option<(i64, usize)>,
    /// Events with their offsets, sorted into `traffic` at the end: billing
    /// events are made after the journey, out of time order.
    events: Vec<(i64, RawEvent)>,
    traffic: VisitorTraffic,
}

impl Visitor {
    fn new(seed: u64, index: u32, window: Window) -> Self {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(u64::from(index));
        let mut devices = vec![uuid(&mut rng)];
        if rng.random_range(0..100u32) < 10 {
            devices.push(uuid(&mut rng));
        }
        let user_id = format!("{:016x}{:08x}", rng.random::<u64>(), rng.random::<u32>());
        let mut billing = ChaCha8Rng::seed_from_u64(seed);
        billing.set_stream(BILLING_STREAMS + u64::from(index));
        Self {
            rng,
            billing,
            window,
            devices,
            user_id,
            logged_in: [false; 2],
            trial_pending: None,
            converted_on: None,
            plan: catalog::MONTHLY,
            cancels_trial: false,
            paid: None,
            events: Vec::new(),
            traffic: VisitorTraffic::default(),
        }
    }

    fn generate(mut self) -> VisitorTraffic {
        let first = self.source();
        let quality = match first {
            Source::Campaign(campaign) => campaign.quality,
            Source::Organic(organic) => organic.quality(),
        };
        self.plan = weighted(&mut self.billing, &quality.plans);
        let sessions = weighted(&mut self.rng, &catalog::SESSIONS);
        // Tuned so that about 20% of visitors sign up inside the range.
        let converts = self.rng.random_range(0..1000u32) < 220;
        // Many sign up on their first visit; the rest on a later one.
        let conversion_session = match (converts, self.percent(40)) {
            (false, _) => None,
            (true, true) => Some(0),
            (true, false) => Some(self.rng.random_range(0..sessions)),
        };
        let trial_first = self.percent(35);
        // One draw whatever the rate, so the journeys after it stay the same.
        let exits_early = self.percent(quality.early_exit);
        self.cancels_trial = trial_first && exits_early;

        let mut t = self.first_visit();
        let mut device = self.rng.random_range(0..self.devices.len());
        for session in 0..sessions {
            if t >= self.window.span {
                break;
            }
            if session > 0 && self.devices.len() > 1 {
                device = self.rng.random_range(0..self.devices.len());
            }
            let source = if session == 0 {
                first
            } else if self.logged_in[device] {
                self.logged_in_source()
            } else {
                self.returning_source()
            };
            let converting = conversion_session == Some(session);
            t = self.session(t, device, source, converting, trial_first);
            t += self.session_gap();
        }
        // A trial nobody came back after still converts, by the billing system.
        if let Some(trial_device) = self.trial_pending.take() {
            t += self.between(DAY, 8 * DAY);
            self.end_trial(t, trial_device);
        }
        // The other browser logs in later, which links it to the account.
        let mut lapses = None;
        if let Some(converted) = self.converted_on {
            if self.devices.len() > 1 && !self.logged_in[1 - converted] {
                t += self.session_gap();
                t = self.login_session(t, 1 - converted);
            }
            if exits_early && !trial_first {
                t += self.between(2 * DAY, 20 * DAY);
                lapses = Some(t);
            }
        }
        if let Some((at, device)) = self.paid {
            self.bill(&quality, at, device, lapses);
        }
        // Stable, so events at one instant keep the order they were made in.
        self.events.sort_by_key(|(at, _)| *at);
        self.traffic.events = self.events.into_iter().map(|(_, e)| e).collect();
        self.traffic
    }

    /// A trial's end: the first payment, or the cancellation instead of it.
    fn end_trial(&mut self, t: i64, device: usize) {
        if self.cancels_trial {
            self.event("unsubscribe", t, device);
        } else {
            self.subscribe(t, device);
        }
    }

    /// The `signup`, which books the plan's first period.
    fn subscribe(&mut self, t: i64, device: usize) {
        self.payment("signup", t, device, i64::from(self.plan.cents));
        self.paid = Some((t, device));
    }

    /// Renewals, refunds and the unsubscribe of a subscriber who first paid
    /// at `signup`, up to the end of the range. `lapses` is when the journey
    /// already has them leave.
    ///
    /// Each period draws its refund and its churn in the same order whether
    /// or not they fall inside the range, so the range's end cuts a
    /// subscription without changing what came before it.
    fn bill(&mut self, quality: &Quality, signup: i64, device: usize, lapses: Option<i64>) {
        let price = i64::from(self.plan.cents);
        let mut leaves = lapses;
        let mut paid = signup;
        for period in 1u32.. {
            if self.billing.random_range(0..1000u32) < quality.refunds {
                let at = paid + self.billing.random_range(2 * HOUR..4 * DAY);
                self.payment("refund", at, device, -price);
                // A refund ends the subscription: nobody is billed again after asking for money back.
                leaves = Some(leaves.map_or(at, |l| l.min(at)));
            }
            let Some(next) = self.renewal_at(signup, period) else {
                break;
            };
            if self.billing.random_range(0..1000u32) < quality.churn {
                // Periods are at least 28 days, so this range is never empty.
                let at = self.billing.random_range(paid + 2 * DAY..next - DAY);
                leaves = Some(leaves.map_or(at, |l| l.min(at)));
            }
            if let Some(at) = leaves.filter(|&at| at <= next) {
                self.event("unsubscribe", at, device);
                return;
            }
            if next >= self.window.span {
                break;
            }
            self.payment("renewal", next, device, price);
            paid = next;
        }
        // Past the range: an unsubscribe there is dropped like any late event.
        if let Some(at) = leaves {
            self.event("unsubscribe", at, device);
        }
    }

    /// The offset of the `period`th renewal of a plan first paid at `signup`:
    /// whole calendar periods from the signup itself, not from the previous
    /// renewal, so a 31st stays the 31st after a short February.
    fn renewal_at(&self, signup: i64, period: u32) -> Option<i64> {
        let months = Months::new(period.checked_mul(self.plan.months)?);
        let first = self.window.start + TimeDelta::microseconds(signup);
        (first.checked_add_months(months)? - self.window.start).num_microseconds()
    }

    /// One visit: a landing pageview, internal navigation, perhaps a
    /// conversion. Returns the time of its last hit.
    fn session(
        &mut self,
        mut t: i64,
        device: usize,
        source: Source,
        converting: bool,
        trial_first: bool,
    ) -> i64 {
        let (landing, referrer) = self.arrival(source);
        self.pageview(t, device, landing.clone(), referrer);
        if self.trial_pending == Some(device) {
            self.trial_pending = None;
            t += self.between(MINUTE, 10 * MINUTE);
            self.end_trial(t, device);
        }
        let mut previous = landing;
        let pages = weighted(&mut self.rng, &catalog::PAGES);
        for _ in 1..pages {
            t += self.page_gap();
            let path = self.browse_path(device);
            previous = self.navigate(t, device, &path, previous);
        }
        if converting && self.converted_on.is_none() {
            t += self.page_gap();
            previous = self.navigate(t, device, "/en/signup", previous);
            t += self.between(30 * SECOND, 3 * MINUTE);
            if trial_first {
                self.event("trial", t, device);
                self.trial_pending = Some(device);
            } else {
                self.subscribe(t, device);
            }
            self.converted_on = Some(device);
            self.logged_in[device] = true;
            let app_pages = self.rng.random_range(1..=3u32);
            for _ in 0..app_pages {
                t += self.page_gap();
                let path = self.app_path();
                previous = self.navigate(t, device, &path, previous);
            }
        }
        t
    }

    /// A visit on the second browser that logs in and browses the app.
    fn login_session(&mut self, mut t: i64, device: usize) -> i64 {
        let landing = format!("{SITE}/en");
        self.pageview(t, device, landing.clone(), None);
        t += self.page_gap();
        let previous = self.navigate(t, device, "/en/login", landing);
        self.logged_in[device] = true;
        t += self.between(20 * SECOND, 2 * MINUTE);
        let path = self.app_path();
        self.navigate(t, device, &path, previous);
        t
    }

    /// An internal pageview referred by the previous page; returns its URL.
    fn navigate(&mut self, t: i64, device: usize, path: &str, previous: String) -> String {
        let url = format!("{SITE}{path}");
        self.pageview(t, device, url.clone(), Some(previous));
        url
    }

    fn pageview(&mut self, t: i64, device: usize, url: String, referrer: Option<String>) {
        if t >= self.window.span {
            return;
        }
        let user_id = self.logged_in[device].then(|| self.user_id.clone());
        self.traffic.pageviews.push(RawPageview {
            fingerprint: Some(self.devices[device].clone()),
            user_id,
            url: Some(url),
            referrer_url: referrer,
            created_at: Some(self.window.timestamp(t)),
        });
    }

    fn event(&mut self, name: &str, t: i64, device: usize) {
        self.push_event(name, t, device, None);
    }

    /// An event booking `cents` (negative for a refund).
    fn payment(&mut self, name: &str, t: i64, device: usize, cents: i64) {
        self.push_event(name, t, device, Some(decimal(cents)));
    }

    fn push_event(&mut self, name: &str, t: i64, device: usize, revenue: Option<String>) {
        if t >= self.window.span {
            return;
        }
        let event = RawEvent {
            name: Some(name.to_owned()),
            fingerprint: Some(self.devices[device].clone()),
            user_id: Some(self.user_id.clone()),
            created_at: Some(self.window.timestamp(t)),
            revenue,
            // The deployment's currency, whatever it is.
            currency: None,
        };
        self.events.push((t, event));
    }

    // --- where visitors come from ---

    /// A first visit's source, by the catalog's weights.
    fn source(&mut self) -> Source {
        let campaigns: u32 = CAMPAIGNS.iter().map(|c| c.weight).sum();
        let organic: u32 = catalog::ORGANIC.iter().map(|(_, w)| w).sum();
        let mut r = self.rng.random_range(0..campaigns + organic);
        for campaign in &CAMPAIGNS {
            if r < campaign.weight {
                return Source::Campaign(campaign);
            }
            r -= campaign.weight;
        }
        Source::Organic(weighted_at(&catalog::ORGANIC, r))
    }

    /// A returning anonymous visitor: typed in, or came through another touch.
    fn returning_source(&mut self) -> Source {
        if self.percent(40) {
            Source::Organic(Organic::Direct)
        } else {
            self.source()
        }
    }

    /// A customer mostly opens the app directly, sometimes from our newsletter.
    fn logged_in_source(&mut self) -> Source {
        match self.rng.random_range(0..100u32) {
            0..70 => Source::Organic(Organic::Direct),
            70..82 => Source::Campaign(&catalog::WEEKLY_DIGEST),
            _ => self.source(),
        }
    }

    /// The landing URL and referrer of a visit from `source`.
    fn arrival(&mut self, source: Source) -> (String, Option<String>) {
        match source {
            Source::Campaign(campaign) => self.campaign_arrival(campaign),
            Source::Organic(Organic::Search) => {
                let engine = weighted(&mut self.rng, &catalog::SEARCH_ENGINES);
                let path = match self.rng.random_range(0..100u32) {
                    0..60 => self.book_path(),
                    60..85 => self.pick(&catalog::BLOG_POSTS).to_owned(),
                    _ => "/en".to_owned(),
                };
                (format!("{SITE}{path}"), Some(engine.to_owned()))
            }
            Source::Organic(Organic::Social) => {
                let (referrer, fbclid) = weighted(&mut self.rng, &catalog::SOCIAL_REFERRERS);
                let path = if self.percent(50) {
                    self.pick(&catalog::BLOG_POSTS).to_owned()
                } else {
                    self.book_path()
                };
                let url = if fbclid && self.percent(80) {
                    format!("{SITE}{path}?fbclid={}", self.token(32))
                } else {
                    format!("{SITE}{path}")
                };
                let referrer = if referrer == "https://t.co/" {
                    format!("{referrer}{}", self.token(10))
                } else {
                    referrer.to_owned()
                };
                (url, Some(referrer))
            }
            Source::Organic(Organic::Referral) => {
                let site = self.pick(&catalog::REFERRAL_SITES);
                let path = match self.rng.random_range(0..100u32) {
                    0..50 => self.book_path(),
                    50..70 => self.pick(&catalog::BLOG_POSTS).to_owned(),
                    _ => "/en".to_owned(),
                };
                (format!("{SITE}{path}"), Some(site.to_owned()))
            }
            Source::Organic(Organic::AiAssistant) => {
                let path = if self.percent(70) {
                    self.book_path()
                } else {
                    "/en".to_owned()
                };
                if self.percent(70) {
                    // ChatGPT tags the links it cites.
                    let url = if self.percent(60) {
                        format!("{SITE}{path}?utm_source=chatgpt.com")
                    } else {
                        format!("{SITE}{path}")
                    };
                    (url, Some("https://chatgpt.com/".to_owned()))
                } else {
                    let url = format!("{SITE}{path}");
                    (url, Some("https://www.perplexity.ai/".to_owned()))
                }
            }
            Source::Organic(Organic::Direct) => {
                let path = match self.rng.random_range(0..100u32) {
                    0..50 => "/en".to_owned(),
                    50..65 => "/en/pricing".to_owned(),
                    _ => self.book_path(),
                };
                (format!("{SITE}{path}"), None)
            }
        }
    }

    fn campaign_arrival(&mut self, c: &Campaign) -> (String, Option<String>) {
        let path = match c.landing {
            Some(path) => path.to_owned(),
            None => self.book_path(),
        };
        let utm = format!(
            "utm_source={}&utm_medium={}&utm_campaign={}",
            c.source, c.medium, c.name
        );
        let (query, referrer) = match c.platform {
            Platform::GoogleSearch => {
                let gclid = self.token(40);
                let engine = if c.name.ends_with("_de") {
                    "https://www.google.de/"
                } else if c.name.ends_with("_uk") {
                    "https://www.google.co.uk/"
                } else {
                    "https://www.google.com/"
                };
                // Auto-tagging alone: the campaign is known only to Google Ads.
                let query = if self.percent(25) {
                    format!("gclid={gclid}")
                } else {
                    let term = self.pick(&[
                        "blinkist",
                        "book+summaries",
                        "audiobooks",
                        "nonfiction+books",
                    ]);
                    format!("{utm}&utm_term={term}&gclid={gclid}")
                };
                (query, Some(engine))
            }
            Platform::BingSearch => {
                let msclkid = self.hex(32);
                (
                    format!("{utm}&msclkid={msclkid}"),
                    Some("https://www.bing.com/"),
                )
            }
            Platform::Facebook => {
                let referrer = match self.rng.random_range(0..100u32) {
                    0..60 => Some("https://m.facebook.com/"),
                    60..80 => Some("https://www.facebook.com/"),
                    _ => None,
                };
                (self.meta_query(&utm), referrer)
            }
            Platform::Instagram => {
                let referrer = self.percent(70).then_some("https://l.instagram.com/");
                (self.meta_query(&utm), referrer)
            }
            Platform::LinkedIn => (utm, Some("https://www.linkedin.com/")),
            Platform::TikTok => (utm, None),
            Platform::YouTubeCreator => {
                let referrer = self.percent(50).then_some("https://www.youtube.com/");
                (utm, referrer)
            }
            Platform::YouTubeAds => (utm, Some("https://www.youtube.com/")),
            Platform::Podcast => (utm, None),
            Platform::Newsletter => {
                let referrer = self.percent(25).then_some("https://mail.google.com/");
                (utm, referrer)
            }
            Platform::Affiliate => {
                let referrer = self.percent(50).then(|| {
                    self.pick(&[
                        "https://www.savethestudent.org/student-discounts",
                        "https://www.bookbloggerhub.com/blinkist-review",
                        "https://www.dealnews.com/",
                    ])
                });
                (utm, referrer)
            }
            Platform::Display => {
                let referrer = self.percent(40).then(|| {
                    self.pick(&[
                        "https://www.spiegel.de/",
                        "https://www.cnn.com/",
                        "https://www.weather.com/",
                    ])
                });
                (utm, referrer)
            }
        };
        (format!("{SITE}{path}?{query}"), referrer.map(str::to_owned))
    }

    /// Meta ads: the ad id in `utm_content`, and Facebook's click id.
    fn meta_query(&mut self, utm: &str) -> String {
        let ad = self
            .rng
            .random_range(10_000_000_000_000..100_000_000_000_000u64);
        let fbclid = self.token(32);
        format!("{utm}&utm_content={ad}&fbclid={fbclid}")
    }

    // --- pages and timing ---

    fn book_path(&mut self) -> String {
        format!("/en/books/{}", self.pick(&catalog::BOOKS))
    }

    fn app_path(&mut self) -> String {
        if self.percent(40) {
            format!("/en/app/books/{}", self.pick(&catalog::BOOKS))
        } else {
            self.pick(&catalog::APP_PAGES).to_owned()
        }
    }

    /// The next page of a visit: the app when logged in, the shop window otherwise.
    fn browse_path(&mut self, device: usize) -> String {
        if self.logged_in[device] {
            return self.app_path();
        }
        match self.rng.random_range(0..100u32) {
            0..45 => self.book_path(),
            45..85 => self.pick(&catalog::BROWSE_PAGES).to_owned(),
            _ => self.pick(&catalog::BLOG_POSTS).to_owned(),
        }
    }

    /// Microseconds into the range of the first visit: any day, busier evenings.
    fn first_visit(&mut self) -> i64 {
        let day = i64::from(self.rng.random_range(0..self.window.days().max(1)));
        let total: u32 = catalog::HOURS.iter().sum();
        let mut r = self.rng.random_range(0..total);
        let mut hour = 0;
        for (h, weight) in (0i64..).zip(catalog::HOURS) {
            if r < weight {
                hour = h;
                break;
            }
            r -= weight;
        }
        day * DAY + hour * HOUR + self.between(0, HOUR)
    }

    /// Between two pages of one visit: seconds to a few minutes.
    fn page_gap(&mut self) -> i64 {
        self.between(10 * SECOND, 4 * MINUTE)
    }

    /// Between visits: always longer than the 30-minute session timeout.
    fn session_gap(&mut self) -> i64 {
        match self.rng.random_range(0..100u32) {
            0..30 => self.between(45 * MINUTE, 6 * HOUR),
            30..60 => self.between(6 * HOUR, DAY),
            60..85 => self.between(DAY, 4 * DAY),
            _ => self.between(4 * DAY, 14 * DAY),
        }
    }

    // --- drawing ---

    fn percent(&mut self, p: u32) -> bool {
        self.rng.random_range(0..100u32) < p
    }

    fn between(&mut self, low: i64, high: i64) -> i64 {
        self.rng.random_range(low..high)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        // Catalog lists are short and non-empty, so the index fits and exists.
        let len = u32::try_from(items.len()).unwrap_or(u32::MAX).max(1);
        items[self.rng.random_range(0..len) as usize]
    }

    /// Random URL-safe characters, like click ids.
    fn token(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
        (0..len).map(|_| char::from(self.pick(ALPHABET))).collect()
    }

    fn hex(&mut self, len: usize) -> String {
        const HEX: &[u8] = b"0123456789abcdef";
        (0..len).map(|_| char::from(self.pick(HEX))).collect()
    }
}

/// A version-4-shaped UUID drawn from the RNG.
fn uuid(rng: &mut ChaCha8Rng) -> String {
    let a = rng.random::<u64>();
    let b = rng.random::<u64>();
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0x0fff,
        ((b >> 48) & 0x3fff) | 0x8000,
        b & 0xffff_ffff_ffff
    )
}

/// Cents as a decimal with two places: `-999` is `"-9.99"`.
fn decimal(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let abs = cents.unsigned_abs();
    format!("{sign}{}.{:02}", abs / 100, abs % 100)
}

/// Draws from `(value, weight)` pairs.
fn weighted<T: Copy>(rng: &mut ChaCha8Rng, items: &[(T, u32)]) -> T {
    let total: u32 = items.iter().map(|(_, w)| w).sum();
    let r = rng.random_range(0..total.max(1));
    weighted_at(items, r)
}

/// The item a draw `r` in `0..total weight` lands on.
fn weighted_at<T: Copy>(items: &[(T, u32)], mut r: u32) -> T {
    for &(item, weight) in items {
        if r < weight {
            return item;
        }
        r -= weight;
    }
    // Only reached for r ≥ the total weight, which callers never draw; the
    // catalog's tables are non-empty.
    items[items.len() - 1].0
}
