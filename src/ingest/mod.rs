//! Ingestion: the one code path every webhook takes, whether it came over REST
//! or GraphQL: validate the whole request, classify each pageview once, store
//! the batch atomically. A request with one bad item stores nothing.

pub mod classify;
pub mod import;
mod json;
pub mod referrers;
mod spend;

use std::sync::Arc;

use chrono::Utc;
use entity::{event, pageview};
use sea_orm::Set;
use url::Url;

use crate::domain::{
    AcceptWindow, Currency, FieldError, NewEvent, NewPageview, RawEvent, RawPageview, TimeWindow,
};
use crate::store::{InsertOutcome, Store};

pub use json::{events_from_json, pageviews_from_json, spend_from_json, JsonBodyError};
pub use spend::RecordedSpend;

/// At most this many field errors are reported for one request: enough to fix
/// a systematic mistake, not so many that the error outgrows the request.
const MAX_REPORTED_ERRORS: usize = 100;

/// Why a request was refused.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Some payload fields are invalid; nothing was stored.
    #[error("invalid payload")]
    Invalid(Vec<FieldError>),
    /// The batch is larger than the configured limit; nothing was stored.
    #[error("a batch holds at most {max} payloads, this one has {got}")]
    TooMany { max: usize, got: usize },
    /// The database failed; nothing was stored (the transaction rolled back).
    #[error("storage failed")]
    Store(#[from] sea_orm::DbErr),
}

/// The result of a stored request, with the natural keys of its payloads (in
/// request order) so a caller can read the stored rows back.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub outcome: InsertOutcome,
    pub keys: Vec<Vec<u8>>,
}

/// Pageviews validated and classified into rows, with the identity links
/// they show and their natural keys.
pub struct PreparedPageviews {
    pub rows: Vec<pageview::ActiveModel>,
    pub links: Vec<crate::store::Link>,
    pub keys: Vec<Vec<u8>>,
    /// Distinct fingerprints of the rows: their derived rows become stale.
    pub fingerprints: Vec<String>,
}

/// Validates, classifies and stores webhooks.
#[derive(Clone)]
pub struct Ingestor {
    store: Store,
    site_hosts: Arc<[String]>,
    max_batch: usize,
    /// The one currency campaign spend may be reported in.
    currency: Currency,
    /// The instants a payload may carry, relative to when it arrives.
    window: AcceptWindow,
    /// `STRIP_QUERY_PARAMS`: keep only campaign parameters and click ids.
    strip_query_params: bool,
}

impl Ingestor {
    pub fn new(store: Store, site_hosts: &[String], max_batch: usize) -> Self {
        let site_hosts = site_hosts
            .iter()
            .map(|h| h.trim().to_lowercase())
            .filter(|h| !h.is_empty())
            .collect();
        Self {
            store,
            site_hosts,
            max_batch,
            currency: Currency::default(),
            window: AcceptWindow::default(),
            strip_query_params: false,
        }
    }

    /// Drops every query parameter but `utm_*` and click ids (and the
    /// fragment) from pageview URLs and referrers before anything is
    /// stored or deduplicated (`STRIP_QUERY_PARAMS`).
    pub fn with_query_stripping(mut self, strip: bool) -> Self {
        self.strip_query_params = strip;
        self
    }

    /// Sets the accepted time window (`EARLIEST_TIMESTAMP`,
    /// `MAX_FUTURE_SECS`); the default is 1970 to one day after now.
    pub fn with_window(mut self, window: AcceptWindow) -> Self {
        self.window = window;
        self
    }

    /// The window for a request arriving now.
    fn window_now(&self) -> TimeWindow {
        self.window.at(Utc::now())
    }

    /// Sets the reporting currency (`CURRENCY`, checked when the
    /// configuration is read). A code that is not three letters leaves the
    /// current one in place and is logged: a builder has no error to return.
    pub fn with_currency(mut self, currency: &str) -> Self {
        match Currency::parse(currency) {
            Ok(c) => self.currency = c,
            Err(e) => tracing::error!(error = %e, "ignoring the configured reporting currency"),
        }
        self
    }

    /// Classifies a URL pair the way ingestion would, storing nothing.
    pub fn classify(&self, url: &Url, referrer: Option<&Url>) -> classify::Classification {
        classify::classify(url, referrer, &self.site_hosts)
    }

    /// Stores pageviews. `batch` says whether errors should name item indexes.
    pub async fn pageviews(
        &self,
        raws: Vec<RawPageview>,
        batch: bool,
    ) -> Result<Recorded, IngestError> {
        let window = self.window_now();
        let parsed = self.validate(raws, batch, |raw| NewPageview::parse(raw, &window))?;
        let prepared = self.classify_all(parsed);
        let outcome = self
            .store
            .insert_pageviews(prepared.rows, prepared.links, prepared.fingerprints)
            .await?;
        Ok(Recorded {
            outcome,
            keys: prepared.keys,
        })
    }

    /// Validates and classifies pageviews into rows without storing them
    /// (the benchmark's storage ceiling inserts these directly).
    pub fn prepare_pageviews(
        &self,
        raws: Vec<RawPageview>,
    ) -> Result<PreparedPageviews, IngestError> {
        let window = self.window_now();
        let parsed = self.validate(raws, true, |raw| NewPageview::parse(raw, &window))?;
        Ok(self.classify_all(parsed))
    }

    fn classify_all(&self, mut parsed: Vec<NewPageview>) -> PreparedPageviews {
        let received_at = Utc::now();
        if self.strip_query_params {
            for pv in &mut parsed {
                pv.url = pv.url.clone().keep_params(classify::is_campaign_param);
                pv.referrer_url = pv
                    .referrer_url
                    .take()
                    .map(|r| r.keep_params(classify::is_campaign_param));
            }
        }
        let fingerprints: std::collections::BTreeSet<String> = parsed
            .iter()
            .map(|pv| pv.fingerprint.as_str().to_owned())
            .collect();
        let mut keys = Vec::with_capacity(parsed.len());
        let mut links = Vec::new();
        let rows = parsed
            .into_iter()
            .map(|pv| {
                let key = pv.dedup_key();
                keys.push(key.clone());
                if let Some(user) = &pv.user_id {
                    links.push((
                        pv.fingerprint.as_str().to_owned(),
                        user.as_str().to_owned(),
                        pv.created_at,
                    ));
                }
                let c = self.classify(
                    pv.url.as_url(),
                    pv.referrer_url.as_ref().map(|r| r.as_url()),
                );
                pageview::ActiveModel {
                    id: Default::default(),
                    dedup_key: Set(key),
                    fingerprint: Set(pv.fingerprint.as_str().to_owned()),
                    user_id: Set(pv.user_id.map(|u| u.as_str().to_owned())),
                    url: Set(pv.url.as_str().to_owned()),
                    referrer_url: Set(pv.referrer_url.map(|r| r.as_str().to_owned())),
                    referrer_host: Set(c.referrer_host),
                    created_at: Set(pv.created_at),
                    landing_page: Set(c.landing_page),
                    source: Set(c.source),
                    medium: Set(c.medium),
                    campaign: Set(c.campaign),
                    content: Set(c.content),
                    term: Set(c.term),
                    click_id: Set(c.click_id),
                    channel: Set(c.channel.as_str().to_owned()),
                    rule: Set(c.rule),
                    received_at: Set(received_at),
                }
            })
            .collect();
        PreparedPageviews {
            rows,
            links,
            keys,
            fingerprints: fingerprints.into_iter().collect(),
        }
    }

    /// Stores events. `batch` says whether errors should name item indexes.
    pub async fn events(&self, raws: Vec<RawEvent>, batch: bool) -> Result<Recorded, IngestError> {
        let window = self.window_now();
        let parsed = self.validate(raws, batch, |raw| {
            let event = NewEvent::parse(raw, &window)?;
            match &event.currency {
                Some(c) if *c != self.currency => Err(vec![FieldError::new(
                    "currency",
                    format!(
                        "must be this deployment's currency, {} (CURRENCY), not {}",
                        self.currency.as_str(),
                        c.as_str()
                    ),
                )]),
                _ => Ok(event),
            }
        })?;
        let received_at = Utc::now();
        let dirty: std::collections::BTreeSet<String> = parsed
            .iter()
            .map(|ev| ev.fingerprint.as_str().to_owned())
            .collect();
        let mut keys = Vec::with_capacity(parsed.len());
        let mut links = Vec::new();
        let rows = parsed
            .into_iter()
            .map(|ev| {
                let key = ev.dedup_key();
                keys.push(key.clone());
                if let Some(user) = &ev.user_id {
                    links.push((
                        ev.fingerprint.as_str().to_owned(),
                        user.as_str().to_owned(),
                        ev.created_at,
                    ));
                }
                event::ActiveModel {
                    id: Default::default(),
                    dedup_key: Set(key),
                    name: Set(ev.name.as_str().to_owned()),
                    fingerprint: Set(ev.fingerprint.as_str().to_owned()),
                    user_id: Set(ev.user_id.map(|u| u.as_str().to_owned())),
                    created_at: Set(ev.created_at),
                    received_at: Set(received_at),
                    revenue_micros: Set(ev.revenue.map(|r| r.micros())),
                    currency: Set(ev.revenue.map(|_| self.currency.as_str().to_owned())),
                }
            })
            .collect();
        let fingerprints = dirty.into_iter().collect();
        let outcome = self.store.insert_events(rows, links, fingerprints).await?;
        Ok(Recorded { outcome, keys })
    }

    /// Parses every item, or reports the errors of all of them (capped).
    fn validate<R, T>(
        &self,
        raws: Vec<R>,
        batch: bool,
        parse: impl Fn(R) -> Result<T, Vec<FieldError>>,
    ) -> Result<Vec<T>, IngestError> {
        if raws.len() > self.max_batch {
            return Err(IngestError::TooMany {
                max: self.max_batch,
                got: raws.len(),
            });
        }
        let mut parsed = Vec::with_capacity(raws.len());
        let mut errors = Vec::new();
        for (index, raw) in raws.into_iter().enumerate() {
            match parse(raw) {
                Ok(item) => parsed.push(item),
                Err(errs) if errors.len() < MAX_REPORTED_ERRORS => errors.extend(
                    errs.into_iter()
                        .map(|e| if batch { e.at(index) } else { e }),
                ),
                Err(_) => {}
            }
        }
        if errors.is_empty() {
            Ok(parsed)
        } else {
            errors.truncate(MAX_REPORTED_ERRORS);
            Err(IngestError::Invalid(errors))
        }
    }
}
