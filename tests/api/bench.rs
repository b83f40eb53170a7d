//! The benchmark harness in quick mode, so it cannot rot: the real binary as
//! a child server, every step measured, both ceilings present.

use growth_analytics::bench::{bench, BenchArgs};

#[tokio::test]
async fn the_benchmark_harness_measures_every_step_in_quick_mode() {
    let mut args = BenchArgs::quick();
    args.server_bin = Some(env!("CARGO_BIN_EXE_growth-analytics").into());
    let report = bench(&args).await.expect("the quick benchmark runs");
    assert!(report.pageviews > 500 && report.signups > 10, "{report:?}");
    for prefix in [
        "HTTP ceiling",
        "single pageview webhooks, 1 ",
        "single pageview webhooks, 32",
        "batched pageviews",
        "batched events",
        "query: one user's attribution",
        "query: 100 conversions",
        "query: campaigns, 30 days, TIME_DECAY",
        "query: campaigns, 30 days, cached repeat",
        "query: campaigns, 30 days, ends off the hour",
        "query: sources, 30 days",
        "query: channels, 30 days",
        "query: landingPages, 30 days",
        "query: overview",
        "query: daily timeseries by channel, 30 days",
        "query: daily timeseries by channel, 30 days, Asia/Kolkata",
        "storage ceiling",
        "materialiser catch-up",
        "late pageview re-attributing",
    ] {
        let step = report
            .steps
            .iter()
            .find(|s| s.name.starts_with(prefix))
            .unwrap_or_else(|| panic!("no step '{prefix}' in {:?}", report.steps));
        assert!(step.requests > 0, "{step:?}");
        // The materialiser may have caught up before the harness looked.
        if !prefix.starts_with("materialiser") {
            assert!(step.throughput() > 0.0, "{step:?}");
        }
        assert!(step.p50 <= step.p99 && step.p99 <= step.max, "{step:?}");
    }
    assert_eq!(report.ratios().len(), 2);
    assert!(report.peak_server_memory.is_some_and(|m| m > 1 << 20));
    assert!(report.peak_bench_memory.is_some_and(|m| m > 1 << 20));
    // Every table is measured after the catch-up; those the schema has hold
    // the dataset (rollups may be absent on an older schema).
    let sizes = report.sizes.as_ref().expect("table sizes are measured");
    for table in ["touchpoints", "credits", "pageviews"] {
        let t = sizes
            .tables
            .iter()
            .find(|t| t.table == table)
            .unwrap_or_else(|| panic!("no size of {table} in {sizes:?}"));
        assert!(t.present && t.rows.is_some_and(|r| r > 0), "{t:?}");
        assert!(t.bytes.is_some_and(|b| b > 0), "{t:?}");
    }
    let pageviews = sizes
        .tables
        .iter()
        .find(|t| t.table == "pageviews")
        .unwrap();
    // Measured before the late pageviews: exactly the dataset's.
    assert_eq!(pageviews.rows, Some(report.pageviews as u64), "{sizes:?}");
    let json = report.json();
    assert_eq!(json["steps"].as_array().unwrap().len(), report.steps.len());
    assert_eq!(
        json["table_sizes"]["tables"].as_array().unwrap().len(),
        sizes.tables.len()
    );
    assert!(report.table().contains("storage ceiling"));
    assert!(report.table().contains("| pageviews"));
}
