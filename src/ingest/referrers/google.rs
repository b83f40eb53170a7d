//! Google's list of sources and their GA4 source categories
//! (`data/ga4-source-categories.csv`): the list the default channel group's rules
//! mean by "source matches a list of search / social / video / shopping sites".
//!
//! The list holds names (`facebook`, `Google Shopping`) and hosts
//! (`m.facebook.com`, `news.google.com`) side by side; GA4 matches a source
//! against it exactly, ignoring case.

use std::collections::HashMap;

use serde::Deserialize;

use super::SiteKind;

/// `data/ga4-source-categories.csv`, unchanged from upstream.
pub(super) const SOURCE_CATEGORIES: &str = include_str!("../../../data/ga4-source-categories.csv");

#[derive(Deserialize)]
struct Row {
    source: String,
    source_category: String,
}

/// Why the embedded list could not be read; a build defect, caught by unit tests.
#[derive(Debug, thiserror::Error)]
pub(super) enum CategoryError {
    #[error("ga4-source-categories.csv: {0}")]
    Csv(#[from] csv::Error),
    #[error("ga4-source-categories.csv: unknown category {category:?} for {name:?}")]
    Category { name: String, category: String },
}

/// Every row of the list as (source as listed, category), in file order.
pub(super) fn rows() -> Result<Vec<(String, SiteKind)>, CategoryError> {
    let mut reader = csv::Reader::from_reader(SOURCE_CATEGORIES.as_bytes());
    reader
        .deserialize::<Row>()
        .map(|row| {
            let row = row?;
            let kind = match row.source_category.as_str() {
                "SOURCE_CATEGORY_SEARCH" => SiteKind::Search,
                "SOURCE_CATEGORY_SOCIAL" => SiteKind::Social,
                "SOURCE_CATEGORY_VIDEO" => SiteKind::Video,
                "SOURCE_CATEGORY_SHOPPING" => SiteKind::Shopping,
                _ => {
                    return Err(CategoryError::Category {
                        name: row.source,
                        category: row.source_category,
                    })
                }
            };
            Ok((row.source, kind))
        })
        .collect()
}

/// The list keyed by lower-case, trimmed source.
pub(super) fn categories() -> Result<HashMap<String, SiteKind>, CategoryError> {
    Ok(rows()?
        .into_iter()
        .map(|(source, kind)| (source.trim().to_lowercase(), kind))
        .collect())
}
