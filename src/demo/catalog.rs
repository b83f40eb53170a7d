//! What the demo site's marketing looks like: its campaigns, the organic
//! sources that send visitors, and its pages.
//!
//! Kept apart from the generator so that the mix can be read (and tuned) as a
//! table. Weights are integers (per mille of first visits) rather than floats:
//! integer sampling is exact, so the same seed gives the same data everywhere.

/// Where a campaign's ads run; decides how its landing URLs and referrers look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Platform {
    /// Google Ads search: UTM-tagged with a `gclid`, or auto-tagged with only a `gclid`.
    GoogleSearch,
    /// Microsoft Advertising: UTM-tagged with an `msclkid`.
    BingSearch,
    /// Facebook ads: `utm_medium=paid`, an `fbclid`, referrer `m.facebook.com` or none.
    Facebook,
    /// Instagram ads: `utm_medium=cpc`, an `fbclid`, referrer `l.instagram.com` or none.
    Instagram,
    /// LinkedIn sponsored content.
    LinkedIn,
    /// TikTok ads (in-app browser: no referrer).
    TikTok,
    /// Sponsored YouTube creators: `utm_medium=video`, organic video.
    YouTubeCreator,
    /// YouTube ads bought per view: `utm_medium=cpv`, paid video.
    YouTubeAds,
    /// Podcast sponsorships: `utm_medium=podcast`.
    Podcast,
    /// Newsletters, sponsored or our own: `utm_medium=email`.
    Newsletter,
    /// Affiliate networks: `utm_medium=affiliate`.
    Affiliate,
    /// Display and native ads: `utm_medium=display` or `cpm`.
    Display,
}

/// What a campaign costs, for [`super::generator::spend`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cost {
    /// Nothing to buy (our own newsletter).
    Free,
    /// Always-on budget, in cents a day.
    Daily(u32),
    /// A sponsorship paid on its air or send days: `cents` every `every` days.
    Drops { cents: u32, every: u32 },
}

/// One campaign, as it appears in landing URLs and in spend.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Campaign {
    pub name: &'static str,
    pub source: &'static str,
    pub medium: &'static str,
    pub platform: Platform,
    /// Landing page path; `None` for a book page picked per click.
    pub landing: Option<&'static str>,
    /// Per mille of first visits.
    pub weight: u32,
    pub cost: Cost,
    /// What the subscribers it brings are worth.
    pub quality: Quality,
}

// One argument per column of the table below, in its order: a struct
// literal per row would not fit on one line.
#[allow(clippy::too_many_arguments)]
const fn campaign(
    name: &'static str,
    source: &'static str,
    medium: &'static str,
    platform: Platform,
    landing: Option<&'static str>,
    weight: u32,
    cost: Cost,
    quality: Quality,
) -> Campaign {
    Campaign {
        name,
        source,
        medium,
        platform,
        landing,
        weight,
        cost,
        quality,
    }
}

/// A subscription plan: what a subscriber pays, and how often.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Plan {
    pub name: &'static str,
    /// The price of one period, in cents (the deployment's currency).
    pub cents: u32,
    /// The billing period in calendar months: a renewal falls on the
    /// signup's day of the month (or the month's last day when it is shorter).
    pub months: u32,
}

pub(crate) const MONTHLY: Plan = Plan {
    name: "monthly",
    cents: 999,
    months: 1,
};
/// A third off twelve monthly payments, paid up front: the plan that makes
/// a channel look good on cash, since the whole year lands on the signup.
pub(crate) const YEARLY: Plan = Plan {
    name: "yearly",
    cents: 7_999,
    months: 12,
};
/// Premium adds the audiobooks and team spaces.
pub(crate) const PREMIUM_MONTHLY: Plan = Plan {
    name: "premium_monthly",
    cents: 1_499,
    months: 1,
};
pub(crate) const PREMIUM_YEARLY: Plan = Plan {
    name: "premium_yearly",
    cents: 11_999,
    months: 12,
};

/// What the subscribers a source brings are worth: the knobs that make
/// channels differ in lifetime value, not only in cost per signup.
///
/// A visitor's quality is that of their first visit's source (the campaign
/// or organic source that brought them). All rates are integers, so the draws
/// stay exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Quality {
    /// Plan weights (per mille) for a visitor who subscribes.
    pub plans: [(Plan, u32); 4],
    /// Percent of converting visitors who leave early: a trial is cancelled
    /// before its first payment; a direct subscriber unsubscribes a few days
    /// after their last visit.
    pub early_exit: u32,
    /// Per mille of paying subscribers who cancel during each billing period,
    /// so do not renew at its end.
    pub churn: u32,
    /// Per mille of payments refunded within a few days (the subscriber
    /// also cancels).
    pub refunds: u32,
}

/// Deal seekers: cheap clicks from prospecting social, short video, native
/// ads, cashback and student affiliates, a New Year's resolution. Almost all
/// monthly, many trials cancelled, a third gone each month: cheap per signup,
/// slow to pay back.
pub(crate) const BARGAIN: Quality = Quality {
    plans: [
        (MONTHLY, 870),
        (YEARLY, 80),
        (PREMIUM_MONTHLY, 40),
        (PREMIUM_YEARLY, 10),
    ],
    early_exit: 30,
    churn: 300,
    refunds: 50,
};

/// The middle of the market: generic search, retargeting, mid-size creators.
pub(crate) const STEADY: Quality = Quality {
    plans: [
        (MONTHLY, 630),
        (YEARLY, 250),
        (PREMIUM_MONTHLY, 90),
        (PREMIUM_YEARLY, 30),
    ],
    early_exit: 15,
    churn: 150,
    refunds: 25,
};

/// People who were looking for us: brand search, organic search, our own
/// newsletter, referrals, podcasts whose hosts use the product. Half take
/// the yearly plan, few leave.
pub(crate) const LOYAL: Quality = Quality {
    plans: [
        (MONTHLY, 400),
        (YEARLY, 470),
        (PREMIUM_MONTHLY, 80),
        (PREMIUM_YEARLY, 50),
    ],
    early_exit: 8,
    churn: 70,
    refunds: 15,
};

/// Professionals (LinkedIn, a founders' podcast, competitors' switchers):
/// the dearest clicks, and the best payers: mostly yearly, often premium,
/// rarely gone.
pub(crate) const PROFESSIONAL: Quality = Quality {
    plans: [
        (MONTHLY, 100),
        (YEARLY, 350),
        (PREMIUM_MONTHLY, 150),
        (PREMIUM_YEARLY, 400),
    ],
    early_exit: 6,
    churn: 50,
    refunds: 10,
};

use Cost::{Daily, Drops, Free};
use Platform::*;

/// Our own weekly newsletter, which also brings customers back.
pub(crate) const WEEKLY_DIGEST: Campaign = campaign(
    "weekly_digest",
    "newsletter",
    "email",
    Newsletter,
    None,
    12,
    Free,
    LOYAL,
);

const MEET: Option<&str> = Some("/en/landing-pages/meet-blinkist");

/// Forty campaigns. Paid media (search, social, paid video, display,
/// affiliates) make up 430‰ of first visits, so about 43% of signups start paid.
///
/// The last column is the subscribers' [`Quality`]. It is set against the
/// cost on purpose: the cheapest signups (affiliates, short video, native,
/// prospecting social) are [`BARGAIN`] and pay back slowly, while some of the
/// dearest (LinkedIn, founders' podcast, competitor search) are
/// [`PROFESSIONAL`] and pay back well, so cost per signup alone misleads.
// One line per campaign reads as a table; rustfmt would spread each over nine.
#[rustfmt::skip]
pub(crate) static CAMPAIGNS: [Campaign; 40] = [
    // Paid search: 180‰.
    campaign("gads_brand_en", "google", "cpc", GoogleSearch, Some("/en"), 40, Daily(42_000), LOYAL),
    campaign("gads_brand_de", "google", "cpc", GoogleSearch, Some("/en"), 15, Daily(18_000), LOYAL),
    campaign("gads_generic_book_summaries_us", "google", "cpc", GoogleSearch, MEET, 25, Daily(65_000), STEADY),
    campaign("gads_generic_book_summaries_uk", "google", "cpc", GoogleSearch, MEET, 12, Daily(30_000), STEADY),
    campaign("gads_competitor_us", "google", "cpc", GoogleSearch, Some("/en/landing-pages/compare"), 10, Daily(25_000), PROFESSIONAL),
    campaign("gads_dsa_books_us", "google", "cpc", GoogleSearch, None, 20, Daily(38_000), STEADY),
    campaign("gads_nonbrand_audiobooks_us", "google", "cpc", GoogleSearch, Some("/en/landing-pages/audiobooks"), 12, Daily(28_000), LOYAL),
    campaign("gads_nonbrand_learning_de", "google", "cpc", GoogleSearch, MEET, 10, Daily(21_000), STEADY),
    campaign("gads_pmax_us", "google", "cpc", GoogleSearch, MEET, 16, Daily(35_000), STEADY),
    campaign("msads_brand_us", "bing", "cpc", BingSearch, Some("/en"), 10, Daily(9_000), LOYAL),
    campaign("msads_generic_us", "bing", "cpc", BingSearch, MEET, 10, Daily(14_000), STEADY),
    // Paid social: 140‰.
    campaign("202301_US_NY_Resolutions", "facebook", "paid", Facebook, MEET, 20, Daily(48_000), BARGAIN),
    campaign("fb_prospecting_lookalike_us", "facebook", "paid", Facebook, MEET, 25, Daily(55_000), BARGAIN),
    campaign("fb_retargeting_pricing", "facebook", "paid", Facebook, Some("/en/pricing"), 15, Daily(22_000), STEADY),
    campaign("fb_prospecting_interest_de", "facebook", "paid", Facebook, MEET, 12, Daily(26_000), BARGAIN),
    campaign("fb_video_views_us", "facebook", "cpc", Facebook, Some("/en/landing-pages/learn-faster"), 10, Daily(19_000), BARGAIN),
    campaign("ig_stories_reading_habit", "instagram", "cpc", Instagram, Some("/en/landing-pages/reading-habit"), 18, Daily(31_000), BARGAIN),
    campaign("ig_reels_book_quotes", "instagram", "cpc", Instagram, None, 18, Daily(29_000), BARGAIN),
    campaign("ig_prospecting_uk", "instagram", "cpc", Instagram, MEET, 10, Daily(17_000), BARGAIN),
    campaign("li_sponsored_teams", "linkedin", "paid", LinkedIn, Some("/en/landing-pages/teams"), 6, Daily(24_000), PROFESSIONAL),
    campaign("tt_spark_ads_us", "tiktok", "paid", TikTok, Some("/en/landing-pages/learn-faster"), 6, Daily(12_000), BARGAIN),
    // Paid video: 30‰.
    campaign("yt_trueview_instream_us", "youtube", "cpv", YouTubeAds, MEET, 18, Daily(27_000), STEADY),
    campaign("yt_shorts_de", "youtube", "cpv", YouTubeAds, MEET, 12, Daily(11_000), BARGAIN),
    // Display: 40‰.
    campaign("display_retargeting_criteo", "criteo", "display", Display, Some("/en/pricing"), 15, Daily(16_000), STEADY),
    campaign("display_prospecting_gdn", "gdn", "cpm", Display, MEET, 10, Daily(13_000), BARGAIN),
    campaign("native_taboola_us", "taboola", "display", Display, Some("/en/blog/how-to-read-more"), 8, Daily(9_500), BARGAIN),
    campaign("native_outbrain_de", "outbrain", "cpm", Display, Some("/en/blog/best-books-2024"), 7, Daily(7_500), BARGAIN),
    // Affiliates: 40‰.
    campaign("aff_awin_generic", "awin", "affiliate", Affiliate, MEET, 18, Daily(12_000), BARGAIN),
    campaign("aff_unidays_students", "unidays", "affiliate", Affiliate, Some("/en/landing-pages/students"), 12, Daily(8_000), BARGAIN),
    campaign("aff_impact_book_bloggers", "impact", "affiliate", Affiliate, None, 10, Daily(6_500), STEADY),
    // Sponsored YouTube creators (organic video): 30‰.
    campaign("yt_creator_productivity_lab", "youtube", "video", YouTubeCreator, Some("/en/landing-pages/creator-offer"), 10, Drops { cents: 350_000, every: 14 }, LOYAL),
    campaign("yt_creator_booktube_anna", "youtube", "video", YouTubeCreator, Some("/en/landing-pages/creator-offer"), 10, Drops { cents: 180_000, every: 21 }, STEADY),
    campaign("yt_creator_study_with_me", "youtube", "video", YouTubeCreator, Some("/en/landing-pages/creator-offer"), 10, Drops { cents: 120_000, every: 10 }, STEADY),
    // Podcasts: 30‰.
    campaign("pod_mindset_mornings_q1", "mindset-mornings", "podcast", Podcast, Some("/en/landing-pages/podcast-offer"), 10, Drops { cents: 250_000, every: 7 }, LOYAL),
    campaign("pod_founders_fm_q1", "founders-fm", "podcast", Podcast, Some("/en/landing-pages/podcast-offer"), 10, Drops { cents: 300_000, every: 7 }, PROFESSIONAL),
    campaign("pod_book_club_radio", "book-club-radio", "podcast", Podcast, Some("/en/landing-pages/podcast-offer"), 10, Drops { cents: 90_000, every: 14 }, LOYAL),
    // Newsletters: 40‰.
    campaign("nl_daily_digest_sponsor", "the-daily-digest", "email", Newsletter, MEET, 10, Drops { cents: 150_000, every: 7 }, LOYAL),
    campaign("nl_productivity_weekly_sponsor", "productivity-weekly", "email", Newsletter, MEET, 10, Drops { cents: 80_000, every: 7 }, STEADY),
    WEEKLY_DIGEST,
    campaign("winback_offer", "newsletter", "email", Newsletter, Some("/en/pricing"), 8, Free, BARGAIN),
];

/// Organic ways in, with their per mille of first visits (470‰ with the
/// campaigns' 530‰).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Organic {
    Search,
    Social,
    Referral,
    AiAssistant,
    Direct,
}

impl Organic {
    /// Organic search, referrals and direct visitors came looking for us;
    /// social and AI-assistant visitors were passing by.
    pub(crate) const fn quality(self) -> Quality {
        match self {
            Organic::Search | Organic::Referral | Organic::Direct => LOYAL,
            Organic::Social | Organic::AiAssistant => STEADY,
        }
    }
}

pub(crate) const ORGANIC: [(Organic, u32); 5] = [
    (Organic::Search, 200),
    (Organic::Direct, 120),
    (Organic::Social, 60),
    (Organic::Referral, 50),
    (Organic::AiAssistant, 40),
];

/// Search engines as their referrers look (Google sends only the origin).
pub(crate) const SEARCH_ENGINES: [(&str, u32); 6] = [
    ("https://www.google.com/", 45),
    ("https://www.google.de/", 15),
    ("https://www.google.co.uk/", 12),
    ("https://www.bing.com/", 12),
    ("https://duckduckgo.com/", 10),
    ("https://search.yahoo.com/", 6),
];

/// Social referrers; `true` where Facebook appends an `fbclid` to the link.
pub(crate) const SOCIAL_REFERRERS: [((&str, bool), u32); 6] = [
    (("https://m.facebook.com/", true), 25),
    (("https://l.facebook.com/", true), 15),
    (("https://l.instagram.com/", true), 20),
    (("https://t.co/", false), 15),
    (("https://www.linkedin.com/", false), 15),
    (("https://www.reddit.com/r/books/", false), 10),
];

/// Blogs and news sites that link to the site.
pub(crate) const REFERRAL_SITES: [&str; 5] = [
    "https://medium.com/@readmore/ten-books-that-changed-how-i-work-3f2a91",
    "https://www.theguardian.com/books/2024/best-apps-for-readers",
    "https://zenhabits.net/reading/",
    "https://lifehacker.com/how-to-read-more-books",
    "https://www.techradar.com/best/best-audiobook-apps",
];

/// Book pages (landing from search, and browsed).
pub(crate) const BOOKS: [&str; 12] = [
    "atomic-habits-en",
    "lives-of-the-stoics-en",
    "deep-work-en",
    "sapiens-en",
    "thinking-fast-and-slow-en",
    "the-psychology-of-money-en",
    "the-power-of-habit-en",
    "start-with-why-en",
    "the-lean-startup-en",
    "mindset-en",
    "grit-en",
    "the-4-hour-workweek-en",
];

/// Blog posts (landing from search, social and referrals).
pub(crate) const BLOG_POSTS: [&str; 5] = [
    "/en/blog/how-to-read-more",
    "/en/blog/best-books-2024",
    "/en/blog/stoicism-for-beginners",
    "/en/blog/build-a-reading-habit",
    "/en/blog/best-productivity-books",
];

/// Anonymous pages a visitor browses to (besides books).
pub(crate) const BROWSE_PAGES: [&str; 6] = [
    "/en",
    "/en/pricing",
    "/en/categories/personal-development",
    "/en/categories/science",
    "/en/categories/money-and-investments",
    "/en/magazine",
];

/// Pages of the logged-in app.
pub(crate) const APP_PAGES: [&str; 5] = [
    "/en/app/library",
    "/en/app/daily",
    "/en/app/discover",
    "/en/app/spaces",
    "/en/app/settings",
];

/// Sessions a visitor makes (before the date range cuts them off), weighted.
pub(crate) const SESSIONS: [(u32, u32); 8] = [
    (1, 30),
    (2, 24),
    (3, 16),
    (4, 11),
    (5, 8),
    (6, 5),
    (8, 4),
    (10, 2),
];

/// Pages in a session, weighted.
pub(crate) const PAGES: [(u32, u32); 10] = [
    (1, 26),
    (2, 19),
    (3, 15),
    (4, 12),
    (5, 9),
    (6, 7),
    (7, 5),
    (8, 3),
    (10, 2),
    (12, 2),
];

/// Hour-of-day weights (UTC) for a first visit: quiet nights, busy evenings.
pub(crate) const HOURS: [u32; 24] = [
    2, 1, 1, 1, 1, 2, 3, 5, 6, 7, 7, 7, 8, 8, 7, 7, 7, 8, 9, 10, 10, 8, 5, 3,
];
