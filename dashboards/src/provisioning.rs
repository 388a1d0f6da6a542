//! Provisioned dashboards: JSON documents of panels, loaded at start.
//!
//! The shipped dashboards (`provisioning/*.json`) are compiled in; every
//! `*.json` file of `dashboards_dir` is added to them (a file with the uid of
//! a shipped dashboard replaces it). A file that is not a valid dashboard is
//! skipped, logged, and listed in [`Dashboards::errors`], so one bad file
//! does not hide the others.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// The dashboards shipped with Tidewater: (file name, JSON).
pub const BUILTIN: &[(&str, &str)] = &[
    ("service-overview.json", include_str!("../provisioning/service-overview.json")),
    ("logs-overview.json", include_str!("../provisioning/logs-overview.json")),
    ("tidewater-self-monitoring.json", include_str!("../provisioning/tidewater-self-monitoring.json")),
];

/// A dashboard: panels of SQL, a default time range, variables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Dashboard {
    /// Stable id used in URLs (`[a-z0-9_-]`, at most 64 characters).
    pub uid: String,
    /// Title shown in the list and above the panels.
    pub title: String,
    /// One or two sentences on what it shows.
    #[serde(default)]
    pub description: String,
    /// Tags for the list.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Default time range.
    #[serde(default)]
    pub time: TimeRange,
    /// Default auto refresh (`30s`, `1m`; empty: off).
    #[serde(default)]
    pub refresh: String,
    /// Variables, filled from SQL and used in panel SQL as `$name`.
    #[serde(default)]
    pub variables: Vec<Variable>,
    /// The panels, laid out left to right on a 12-column grid.
    pub panels: Vec<Panel>,
}

/// A time range in the UI's syntax (`now-1h`, `now`, or an RFC 3339 time).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeRange {
    /// Start.
    pub from: String,
    /// End.
    pub to: String,
}

impl Default for TimeRange {
    fn default() -> Self {
        Self { from: "now-1h".into(), to: "now".into() }
    }
}

/// A dashboard variable: its values are the first column of `query`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Variable {
    /// Name used as `$name` / `${name}` in panel SQL.
    pub name: String,
    /// Label shown in the UI (default: the name).
    #[serde(default)]
    pub label: String,
    /// SQL whose first column gives the values (macros allowed).
    pub query: String,
    /// Offer "All" (every value) as a choice; it is the default.
    #[serde(default = "yes")]
    pub include_all: bool,
}

fn yes() -> bool {
    true
}

/// How a panel draws its query's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PanelType {
    /// Lines over time: one per series (label columns) and value column.
    Timeseries,
    /// One big number: the last row's value.
    Stat,
    /// The rows as a table.
    Table,
    /// Log lines (time, severity, service, body).
    Logs,
}

/// One panel.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Panel {
    /// Title above the panel.
    pub title: String,
    /// How it is drawn.
    #[serde(rename = "type")]
    pub kind: PanelType,
    /// The query (macros and variables allowed).
    pub sql: String,
    /// Unit of the values: `s`, `bytes`, `percent`, `reqps`, `short` (default).
    #[serde(default)]
    pub unit: String,
    /// Width in grid columns, 1 to 12 (default 6).
    #[serde(default = "half")]
    pub width: u8,
    /// Smallest `$__interval` for this panel (e.g. `1m`), so rates have
    /// enough samples per bucket.
    #[serde(default)]
    pub min_interval: String,
    /// What the panel shows (a tooltip).
    #[serde(default)]
    pub description: String,
}

fn half() -> u8 {
    6
}

impl Dashboard {
    /// Parse and check one dashboard document; `origin` names it in errors.
    pub fn parse(json: &str, origin: &Path) -> Result<Self> {
        let invalid = |reason: String| Error::Invalid { path: origin.to_path_buf(), reason };
        let d: Dashboard = serde_json::from_str(json).map_err(|e| invalid(e.to_string()))?;
        d.validate().map_err(invalid)?;
        Ok(d)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        let uid_ok = !self.uid.is_empty()
            && self.uid.len() <= 64
            && self.uid.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !uid_ok {
            return Err(format!("uid {:?} must be 1 to 64 characters of a-z, 0-9, - and _", self.uid));
        }
        if self.title.trim().is_empty() {
            return Err("title is empty".into());
        }
        if self.panels.is_empty() {
            return Err("a dashboard needs at least one panel".into());
        }
        for (i, p) in self.panels.iter().enumerate() {
            if p.sql.trim().is_empty() {
                return Err(format!("panel {} ({:?}) has no sql", i + 1, p.title));
            }
            if !(1..=12).contains(&p.width) {
                return Err(format!("panel {} ({:?}): width must be 1 to 12, not {}", i + 1, p.title, p.width));
            }
        }
        let mut names = std::collections::HashSet::new();
        for v in &self.variables {
            let name_ok = !v.name.is_empty() && v.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
            if !name_ok || v.name.starts_with("__") {
                return Err(format!("variable name {:?} must be letters, digits and _ (not starting __)", v.name));
            }
            if !names.insert(v.name.as_str()) {
                return Err(format!("variable {:?} is defined twice", v.name));
            }
        }
        Ok(())
    }
}

/// Where a dashboard came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "lowercase", tag = "kind", content = "path")]
pub enum Source {
    /// Shipped with Tidewater.
    Builtin,
    /// A file of `dashboards_dir`.
    File(PathBuf),
}

/// The loaded dashboards, by uid.
#[derive(Debug, Clone, Default)]
pub struct Dashboards {
    by_uid: BTreeMap<String, (Dashboard, Source)>,
    errors: Vec<String>,
}

impl Dashboards {
    /// The shipped dashboards plus every `*.json` file of `dir` (if given).
    /// Fails only if `dir` itself cannot be read; bad files are skipped and
    /// listed in [`Dashboards::errors`]. Reads files: call from a blocking
    /// context.
    pub fn load(dir: Option<&Path>) -> Result<Self> {
        let mut out = Self::default();
        for (name, json) in BUILTIN {
            let d = Dashboard::parse(json, Path::new(name))?;
            out.by_uid.insert(d.uid.clone(), (d, Source::Builtin));
        }
        let Some(dir) = dir else { return Ok(out) };
        let io = |source| Error::Io { path: dir.to_path_buf(), source };
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(io)?
            .map(|e| e.map(|e| e.path()).map_err(io))
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        let mut from_files = std::collections::HashSet::new();
        for path in files {
            let loaded = std::fs::read_to_string(&path)
                .map_err(|source| Error::Io { path: path.clone(), source })
                .and_then(|text| Dashboard::parse(&text, &path));
            match loaded {
                Ok(d) if !from_files.insert(d.uid.clone()) => {
                    out.skip(Error::Invalid { path, reason: format!("uid {:?} is used by another file", d.uid) })
                }
                Ok(d) => {
                    tracing::info!(uid = %d.uid, path = %path.display(), "dashboard loaded");
                    out.by_uid.insert(d.uid.clone(), (d, Source::File(path)));
                }
                Err(e) => out.skip(e),
            }
        }
        Ok(out)
    }

    fn skip(&mut self, e: Error) {
        tracing::error!(error = %e, "dashboard file skipped");
        self.errors.push(e.to_string());
    }

    /// Every dashboard with its source, ordered by title.
    pub fn list(&self) -> Vec<(&Dashboard, &Source)> {
        let mut all: Vec<_> = self.by_uid.values().map(|(d, s)| (d, s)).collect();
        all.sort_by_key(|(d, _)| d.title.to_lowercase());
        all
    }

    /// The dashboard with `uid`.
    pub fn get(&self, uid: &str) -> Option<&Dashboard> {
        self.by_uid.get(uid).map(|(d, _)| d)
    }

    /// Files that were skipped, with the reason.
    pub fn errors(&self) -> &[String] {
        &self.errors
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_dashboards_parse() {
        let all = Dashboards::load(None).expect("builtin dashboards");
        let titles: Vec<&str> = all.list().iter().map(|(d, _)| d.title.as_str()).collect();
        assert_eq!(titles, ["Logs overview", "Service overview", "Tidewater self-monitoring"]);
        assert!(all.errors().is_empty());
    }

    #[test]
    fn a_directory_adds_and_replaces_dashboards_and_reports_bad_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let panel = r#"{"title":"p","type":"stat","sql":"SELECT 1"}"#;
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).expect("write");
        write("a.json", &format!(r#"{{"uid":"mine","title":"Mine","panels":[{panel}]}}"#));
        write("b.json", &format!(r#"{{"uid":"service-overview","title":"Services (ours)","panels":[{panel}]}}"#));
        write("c.json", &format!(r#"{{"uid":"mine","title":"Again","panels":[{panel}]}}"#));
        write("d.json", r#"{"uid":"Bad Uid","title":"x","panels":[]}"#);
        write("e.json", r#"{"uid":"e","title":"x","panels":[{"title":"p","type":"pie","sql":"SELECT 1"}]}"#);
        write("notes.txt", "not a dashboard");
        let all = Dashboards::load(Some(dir.path())).expect("load");
        assert_eq!(all.get("mine").map(|d| d.title.as_str()), Some("Mine"));
        assert_eq!(all.get("service-overview").map(|d| d.title.as_str()), Some("Services (ours)"));
        let errors = all.errors().join("\n");
        assert_eq!(all.errors().len(), 3, "{errors}");
        assert!(errors.contains("c.json: uid \"mine\" is used by another file"), "{errors}");
        assert!(errors.contains("d.json: uid \"Bad Uid\""), "{errors}");
        assert!(errors.contains("e.json: unknown variant `pie`"), "{errors}");
        assert!(Dashboards::load(Some(&dir.path().join("missing"))).is_err());
    }

    #[test]
    fn widths_and_variable_names_are_checked() {
        let p = Path::new("x.json");
        let wide = r#"{"uid":"x","title":"x","panels":[{"title":"p","type":"table","sql":"SELECT 1","width":13}]}"#;
        assert!(Dashboard::parse(wide, p).unwrap_err().to_string().contains("width must be 1 to 12"));
        let var = r#"{"uid":"x","title":"x","variables":[{"name":"__from","query":"SELECT 1"}],
                      "panels":[{"title":"p","type":"table","sql":"SELECT 1"}]}"#;
        assert!(Dashboard::parse(var, p).unwrap_err().to_string().contains("variable name"));
    }
}
