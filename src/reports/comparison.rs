//! The model comparison (issue 16): one report's rows under several models,
//! side by side, as GA4's and Matomo's model comparison tools show them.
//!
//! Pure: it takes each model's rows as the report itself computed them, so
//! every column equals that model's report by construction.

use std::collections::BTreeMap;

use super::{Row, RowKey};

/// One key's conversions under each model, in the models' order.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparisonRow {
    pub key: RowKey,
    pub conversions: Vec<f64>,
    /// (conversions[i] − conversions[0]) / conversions[0]; all `None` when
    /// conversions[0] is 0.
    pub change: Vec<Option<f64>>,
}

/// Lines up `per_model` (each model's report rows, in the order of the
/// models) by key. A key gets a row when some model credits it with
/// conversions: a key the report lists only for its traffic or spend, at 0
/// under every model, has nothing to compare. A model whose report has no
/// row for a key gives it 0. Ordered by the first model's conversions
/// descending, then by the key, as the reports break ties.
pub fn compare(per_model: &[&[Row]]) -> Vec<ComparisonRow> {
    let mut by_key: BTreeMap<&RowKey, Vec<f64>> = BTreeMap::new();
    for (i, rows) in per_model.iter().enumerate() {
        for row in rows.iter().filter(|r| r.conversions != 0.0) {
            by_key
                .entry(&row.key)
                .or_insert_with(|| vec![0.0; per_model.len()])[i] = row.conversions;
        }
    }
    let mut out: Vec<ComparisonRow> = by_key
        .into_iter()
        .map(|(key, conversions)| {
            let first = conversions.first().copied().unwrap_or(0.0);
            let change = conversions
                .iter()
                .map(|c| (first != 0.0).then(|| (c - first) / first))
                .collect();
            ComparisonRow {
                key: key.clone(),
                conversions,
                change,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        let first = |r: &ComparisonRow| r.conversions.first().copied().unwrap_or(0.0);
        first(b)
            .total_cmp(&first(a))
            .then_with(|| a.key.cmp(&b.key))
    });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Channel;

    fn row(channel: Channel, conversions: f64) -> Row {
        let mut r = Row::new(RowKey::Channel(channel));
        r.conversions = conversions;
        r
    }

    #[test]
    fn rows_line_up_by_key_in_the_models_order_with_changes_from_the_first() {
        let last_click = vec![
            row(Channel::Direct, 2.0),
            row(Channel::Email, 1.0),
            row(Channel::Referral, 0.0),
        ];
        let linear = vec![
            row(Channel::Direct, 1.5),
            row(Channel::PaidSocial, 0.5),
            row(Channel::Email, 1.0),
        ];
        let rows = compare(&[&last_click, &linear]);
        let summary: Vec<(RowKey, Vec<f64>, Vec<Option<f64>>)> = rows
            .into_iter()
            .map(|r| (r.key, r.conversions, r.change))
            .collect();
        assert_eq!(
            summary,
            [
                (
                    RowKey::Channel(Channel::Direct),
                    vec![2.0, 1.5],
                    vec![Some(0.0), Some(-0.25)]
                ),
                (
                    RowKey::Channel(Channel::Email),
                    vec![1.0, 1.0],
                    vec![Some(0.0), Some(0.0)]
                ),
                // Not credited by the first model: no change to speak of.
                (
                    RowKey::Channel(Channel::PaidSocial),
                    vec![0.0, 0.5],
                    vec![None, None]
                ),
            ],
            "REFERRAL, at 0 under both, is left out"
        );
    }

    #[test]
    fn ties_on_the_first_model_break_by_key_and_nothing_gives_nothing() {
        let a = vec![row(Channel::Email, 1.0), row(Channel::Direct, 1.0)];
        let keys: Vec<RowKey> = compare(&[&a]).into_iter().map(|r| r.key).collect();
        assert_eq!(
            keys,
            [
                RowKey::Channel(Channel::Direct),
                RowKey::Channel(Channel::Email)
            ]
        );
        assert!(compare(&[&[], &[]]).is_empty());
    }
}
