use std::path::Path;
use std::time::Duration;

use super::*;

fn parse(text: &str) -> Result<Vec<Group>, Vec<RuleError>> {
    parse_str(Path::new("rules/x.yml"), text, &LoadOptions::default())
}

#[test]
fn loads_threshold_rules() {
    let groups = parse(
        r#"
groups:
  - name: api
    interval: 30s
    rules:
      - alert: HighErrors
        sql: SELECT service_name, avg(value) AS value FROM errors WHERE time > $__now - INTERVAL '5 minutes' GROUP BY 1
        for: 5m
        keep_firing_for: 10m
        labels:
          severity: page
        annotations:
          summary: "{{ labels.service_name }} errors at {{ value }}"
"#,
    )
    .expect("loads");
    assert_eq!(groups.len(), 1);
    let g = &groups[0];
    assert_eq!((g.name.as_str(), g.interval), ("api", Duration::from_secs(30)));
    let r = &g.rules[0];
    assert_eq!(
        (r.name.as_str(), r.line, r.for_, r.keep_firing_for),
        ("HighErrors", 6, Duration::from_secs(300), Duration::from_secs(600))
    );
    assert!(matches!(r.kind, RuleKind::Threshold { .. }));
}

#[test]
fn every_error_has_its_line_and_reason() {
    let errors = parse(
        r#"groups:
  - name: api
    interval: 10q
    rules:
      - alert: Bad Name
        sql: SELECT 1 AS value
      - alert: NoSql
      - alert: BadSql
        sql: SELEC value FROM t
      - alert: BadTemplate
        sql: SELECT 1 AS value
        annotations:
          summary: "{{ humanize value }}"
      - alert: Two
        slo: two
"#,
    )
    .expect_err("invalid");
    let got: Vec<(u64, &str)> = errors.iter().map(|e| (e.line, e.reason.as_str())).collect();
    let has = |line: u64, needle: &str| got.iter().any(|(l, r)| *l == line && r.contains(needle));
    assert!(has(3, "unknown unit"), "{got:?}");
    assert!(has(5, "invalid alert name"), "{got:?}");
    assert!(has(7, "missing `sql`"), "{got:?}");
    assert!(has(9, "SQL syntax"), "{got:?}");
    assert!(has(13, "unknown template expression"), "{got:?}");
    assert!(has(14, "exactly one of"), "{got:?}");
    assert_eq!(errors[0].to_string().split(':').next(), Some("rules/x.yml"));
}

#[test]
fn yaml_errors_carry_their_line() {
    let errors = parse("groups:\n  - name: a\n    rules:\n      - alert: X\n        sqll: SELECT 1 AS value\n")
        .expect_err("bad");
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].line, 5, "{:?}", errors[0]);
    assert!(errors[0].reason.contains("sqll"), "{:?}", errors[0]);
}

#[test]
fn slo_windows_scale_with_the_slo_window() {
    let groups = parse(
        r#"
groups:
  - name: slos
    rules:
      - slo: availability
        service: checkout
        objective: 99.9
        window: 28d
        sli:
          errors: SELECT sum(value) AS value FROM req WHERE status = 'error' AND $__timeFilter
          total: SELECT sum(value) AS value FROM req WHERE $__timeFilter
        page:
          labels: {team: payments}
"#,
    )
    .expect("loads");
    let RuleKind::Slo(s) = &groups[0].rules[0].kind else { panic!("slo") };
    let page = s.page.as_ref().expect("page");
    let ticket = s.ticket.as_ref().expect("ticket");
    // 2% of a 28-day budget in 1h: 0.02 * 672 = 13.44; 5% in 6h: 5.6; 10% in 1d: 2.8; 10% in 3d: 0.9333.
    let f: Vec<f64> = page.windows.iter().chain(&ticket.windows).map(|w| (w.factor * 1e4).round() / 1e4).collect();
    assert_eq!(f, vec![13.44, 5.6, 2.8, 0.9333]);
    let thirty = BurnWindow::default_page(Duration::from_secs(30 * 86_400));
    assert_eq!(thirty.iter().map(|w| (w.factor * 1e9).round() / 1e9).collect::<Vec<_>>(), vec![14.4, 6.0]);
    assert!((s.budget() - 0.001).abs() < 1e-12);
}

#[test]
fn slo_sli_must_be_windowed() {
    let errors = parse(
        r#"groups:
  - name: slos
    rules:
      - slo: availability
        service: checkout
        objective: 99.9
        sli:
          errors: SELECT sum(value) AS value FROM req
          total: SELECT sum(value) AS value FROM req WHERE $__timeFilter
"#,
    )
    .expect_err("unwindowed");
    assert!(errors.iter().any(|e| e.reason.contains("$__timeFilter")), "{errors:?}");
}

#[test]
fn a_rule_directory_over_max_rules_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rule = |n: usize| format!("      - alert: R{n}\n        sql: SELECT 1 AS value\n");
    let text = format!("groups:\n  - name: g\n    rules:\n{}", (0..3).map(rule).collect::<String>());
    std::fs::write(dir.path().join("r.yml"), text).expect("write");
    let at = |max_rules| LoadOptions { max_rules, ..LoadOptions::default() };
    assert!(load_dir(dir.path(), &at(3)).is_ok());
    assert!(load_dir(dir.path(), &at(0)).is_ok(), "0 is no limit");
    let errors = load_dir(dir.path(), &at(2)).expect_err("over the limit");
    assert!(errors[0].reason.contains("3 rules, over the tenant's limit max_rules = 2"), "{errors:?}");
}
