//! The rule files: `groups` groups of `per_group` threshold rules, interval
//! 30 s, each rule a different query: per host or per region, over the
//! four tables, 5 to 15 minute windows, `max` / `avg` / `min`, and one in
//! four over every host of a table.

use std::path::Path;

use crate::data::{host, region, TABLES};

/// The SQL of rule `n`.
fn sql(n: usize, hosts: usize) -> String {
    let (table, base) = TABLES[n % TABLES.len()];
    let h = (n / TABLES.len() * 7 + n / 97) % hosts;
    let over = |minutes: u32| format!("time > $__now - INTERVAL '{minutes} minutes' AND time <= $__now");
    let thr = base * (1.2 + (n % 7) as f64 * 0.1);
    match (n / TABLES.len()) % 4 {
        0 => format!(
            "SELECT host, max(value) AS value FROM {table} WHERE host = '{}' AND {} GROUP BY host HAVING max(value) > {thr:.1}",
            host(h),
            over(5)
        ),
        1 => format!(
            "SELECT host, avg(value) AS value FROM {table} WHERE host = '{}' AND {} GROUP BY host HAVING avg(value) > {thr:.1}",
            host(h),
            over(10)
        ),
        2 => format!(
            "SELECT region, avg(value) AS value FROM {table} WHERE region = '{}' AND {} GROUP BY region HAVING avg(value) > {thr:.1}",
            region(h),
            over(5)
        ),
        _ => format!(
            "SELECT host, min(value) AS value FROM {table} WHERE {} GROUP BY host HAVING min(value) > {thr:.1}",
            over(15)
        ),
    }
}

/// Write the rule files under `dir`; returns the number of rules.
pub fn write(dir: &Path, groups: usize, per_group: usize, hosts: usize) -> Result<usize, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    for g in 0..groups {
        let mut text = format!("groups:\n  - name: hosts-{g:03}\n    interval: 30s\n    rules:\n");
        for r in 0..per_group {
            let n = g * per_group + r;
            let for_ = ["0s", "1m", "5m"][n % 3];
            text.push_str(&format!(
                "      - alert: Threshold{n:05}\n        sql: \"{}\"\n        for: {for_}\n        labels:\n          severity: {}\n        annotations:\n          summary: \"{{{{ labels.host }}}} at {{{{ value }}}}\"\n",
                sql(n, hosts),
                ["page", "ticket"][n % 2],
            ));
        }
        let path = dir.join(format!("hosts-{g:03}.yml"));
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(groups * per_group)
}
