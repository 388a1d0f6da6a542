//! Load rule files: YAML -> [`Group`]s, every error with file, line and reason.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_saphyr::Spanned;

use super::file::{RawBurnWindows, RawFile, RawGroup, RawModel, RawRule, RawSloAlert};
use super::template::{Template, Templates};
use super::{AnomalySpec, BurnWindow, Direction, Group, Model, Rule, RuleKind, RuleSet, Sli, SloAlert, SloSpec};
use crate::duration;
use crate::error::RuleError;

/// Defaults applied while loading.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Interval of groups that set none.
    pub default_interval: Duration,
    /// Alert instances per rule, for groups that set no `limit`.
    pub default_limit: usize,
    /// Rules all files together may hold (0: no limit; the tenant's `max_rules`).
    pub max_rules: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        Self { default_interval: Duration::from_secs(60), default_limit: 10_000, max_rules: 0 }
    }
}

/// Load every `*.yml` / `*.yaml` file of `dir` (not recursive, sorted by name).
pub fn load_dir(dir: &Path, opts: &LoadOptions) -> Result<RuleSet, Vec<RuleError>> {
    let err = |reason: String| vec![RuleError { file: dir.to_path_buf(), line: 0, reason }];
    let entries = std::fs::read_dir(dir).map_err(|e| err(format!("cannot read the rules directory: {e}")))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file() && matches!(p.extension().and_then(|e| e.to_str()), Some("yml" | "yaml")))
        .collect();
    files.sort();
    let mut groups = Vec::new();
    let mut errors = Vec::new();
    for f in files {
        match load_file(&f, opts) {
            Ok(g) => groups.extend(g),
            Err(e) => errors.extend(e),
        }
    }
    let rules: usize = groups.iter().map(|g| g.rules.len()).sum();
    if opts.max_rules > 0 && rules > opts.max_rules {
        errors.push(RuleError {
            file: dir.to_path_buf(),
            line: 0,
            reason: format!("{rules} rules, over the tenant's limit max_rules = {}", opts.max_rules),
        });
    }
    if errors.is_empty() {
        Ok(RuleSet { groups })
    } else {
        Err(errors)
    }
}

/// Load one rule file.
pub fn load_file(path: &Path, opts: &LoadOptions) -> Result<Vec<Group>, Vec<RuleError>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| vec![RuleError { file: path.to_path_buf(), line: 0, reason: format!("cannot read: {e}") }])?;
    parse_str(path, &text, opts)
}

/// Parse the text of a rule file named `path`.
pub fn parse_str(path: &Path, text: &str, opts: &LoadOptions) -> Result<Vec<Group>, Vec<RuleError>> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let raw: RawFile = serde_saphyr::from_str(text).map_err(|e| {
        let line = e.location().map_or(0, |l| l.line());
        let reason = e.to_string().lines().next().unwrap_or("invalid YAML").to_string();
        vec![RuleError { file: path.to_path_buf(), line, reason }]
    })?;
    let mut cx = Cx { file: path.to_path_buf(), errors: Vec::new() };
    let mut names = HashSet::new();
    let mut groups = Vec::new();
    for g in raw.groups {
        if !names.insert(g.value.name.value.clone()) {
            cx.err(&g.value.name, format!("group name {:?} is repeated in this file", g.value.name.value));
        }
        if let Some(group) = cx.group(g, opts) {
            groups.push(group);
        }
    }
    if cx.errors.is_empty() {
        Ok(groups)
    } else {
        Err(cx.errors)
    }
}

/// Collects errors while converting one file.
struct Cx {
    file: PathBuf,
    errors: Vec<RuleError>,
}

fn line<T>(s: &Spanned<T>) -> u64 {
    s.referenced.line()
}

impl Cx {
    fn err<T>(&mut self, at: &Spanned<T>, reason: impl Into<String>) {
        self.at(line(at), reason);
    }

    fn at(&mut self, line: u64, reason: impl Into<String>) {
        self.errors.push(RuleError { file: self.file.clone(), line, reason: reason.into() });
    }

    fn duration(&mut self, d: &Option<Spanned<String>>, what: &str) -> Option<Duration> {
        let d = d.as_ref()?;
        match duration::parse(&d.value) {
            Ok(v) => Some(v),
            Err(e) => {
                self.err(d, format!("{what}: {e}"));
                None
            }
        }
    }

    fn group(&mut self, g: Spanned<RawGroup>, opts: &LoadOptions) -> Option<Group> {
        let before = self.errors.len();
        let raw = g.value;
        if raw.name.value.trim().is_empty() {
            self.err(&raw.name, "group name is empty");
        }
        let interval = self.duration(&raw.interval, "interval").unwrap_or(opts.default_interval);
        if interval.is_zero() {
            if let Some(i) = &raw.interval {
                self.err(i, "interval must be positive");
            }
        }
        let mut rules = Vec::new();
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for r in raw.rules {
            let at = line(&r);
            if let Some(mut rule) = self.rule(r, interval) {
                // Rules with one name get `#2`, `#3`: their state keys stay distinct.
                let n = seen.entry(rule.name.clone()).or_default();
                *n += 1;
                if *n > 1 && matches!(rule.kind, RuleKind::Slo(_)) {
                    self.at(at, format!("SLO {:?} is defined twice in this group", rule.name));
                }
                rule.line = at;
                rules.push(rule);
            }
        }
        (self.errors.len() == before).then(|| Group {
            name: raw.name.value,
            file: self.file.clone(),
            interval,
            limit: raw.limit.filter(|l| *l > 0).unwrap_or(opts.default_limit),
            rules,
        })
    }

    fn rule(&mut self, r: Spanned<RawRule>, interval: Duration) -> Option<Rule> {
        let at = line(&r);
        let raw = r.value;
        let before = self.errors.len();
        let kinds = [raw.alert.is_some(), raw.slo.is_some(), raw.anomaly.is_some()];
        if kinds.iter().filter(|k| **k).count() != 1 {
            self.at(at, "a rule needs exactly one of `alert`, `slo` or `anomaly`");
            return None;
        }
        let for_ = self.duration(&raw.for_, "for").unwrap_or_default();
        let keep_firing_for = self.duration(&raw.keep_firing_for, "keep_firing_for").unwrap_or_default();
        let labels = self.templates(&raw.labels, true);
        let annotations = self.templates(&raw.annotations, false);
        let (name, kind) = if let Some(name) = &raw.alert {
            self.alert_name(name);
            self.reject_fields(&raw, at, "alert");
            let sql = self.sql(&raw.sql, at, false);
            (name.value.clone(), sql.map(|sql| RuleKind::Threshold { sql }))
        } else if let Some(name) = &raw.slo {
            if raw.sql.is_some() {
                self.at(at, "an SLO takes `sli` (errors or good, and total), not `sql`");
            }
            let spec = self.slo(name, &raw, at);
            (name.value.clone(), spec.map(|s| RuleKind::Slo(Box::new(s))))
        } else if let Some(name) = &raw.anomaly {
            self.alert_name(name);
            let spec = self.anomaly(&raw, at, interval);
            (name.value.clone(), spec.map(|s| RuleKind::Anomaly(Box::new(s))))
        } else {
            return None;
        };
        let kind = kind?;
        (self.errors.len() == before).then_some(Rule {
            name,
            line: at,
            for_,
            keep_firing_for,
            labels,
            annotations,
            kind,
        })
    }

    /// Threshold rules must not carry SLO or anomaly fields.
    fn reject_fields(&mut self, raw: &RawRule, at: u64, kind: &str) {
        let stray = [
            ("service", raw.service.is_some()),
            ("objective", raw.objective.is_some()),
            ("window", raw.window.is_some()),
            ("sli", raw.sli.is_some()),
            ("page", raw.page.is_some()),
            ("ticket", raw.ticket.is_some()),
            ("model", raw.model.is_some()),
            ("history", raw.history.is_some()),
        ];
        for (field, set) in stray {
            if set {
                self.at(at, format!("`{field}` does not apply to an `{kind}` rule"));
            }
        }
    }

    fn alert_name(&mut self, name: &Spanned<String>) {
        let ok = name.value.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !ok {
            self.err(name, format!("invalid alert name {:?}: use letters, digits and _", name.value));
        }
    }

    fn templates(&mut self, m: &BTreeMap<String, Spanned<String>>, labels: bool) -> Templates {
        let mut out = Templates::new();
        for (k, v) in m {
            let valid = k.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                self.err(v, format!("invalid {} name {k:?}", if labels { "label" } else { "annotation" }));
            }
            if labels && k == "alertname" {
                self.err(v, "the `alertname` label is set from the rule name");
            }
            match Template::parse(&v.value) {
                Ok(t) => {
                    out.insert(k.clone(), t);
                }
                Err(e) => self.err(v, e),
            }
        }
        out
    }

    /// Check that `sql` is one query (macros filled in); `windowed`: it must use the window.
    fn sql(&mut self, sql: &Option<Spanned<String>>, at: u64, windowed: bool) -> Option<String> {
        let Some(s) = sql else {
            self.at(at, "missing `sql`");
            return None;
        };
        if let Err(e) = super::check::parse_query(&s.value) {
            self.err(s, e);
            return None;
        }
        if windowed && !super::macros::uses_window(&s.value) {
            self.err(s, "this query must use $__timeFilter (or $__from/$__to): the evaluator sets the window");
            return None;
        }
        Some(s.value.clone())
    }

    fn slo(&mut self, name: &Spanned<String>, raw: &RawRule, at: u64) -> Option<SloSpec> {
        if name.value.trim().is_empty() || name.value.chars().any(|c| c.is_whitespace()) {
            self.err(name, "an SLO name must be non-empty, without spaces");
        }
        let Some(service) = &raw.service else {
            self.at(at, "an SLO needs `service`");
            return None;
        };
        let objective = match &raw.objective {
            Some(o) if o.value > 0.0 && o.value < 100.0 => o.value,
            Some(o) => {
                self.err(o, "objective must be a percentage between 0 and 100 (exclusive), e.g. 99.9");
                return None;
            }
            None => {
                self.at(at, "an SLO needs `objective` (percent, e.g. 99.9)");
                return None;
            }
        };
        let window = match (&raw.window, self.duration(&raw.window, "window")) {
            (Some(w), Some(d)) if d.is_zero() => {
                self.err(w, "window must be positive");
                return None;
            }
            (Some(_), Some(d)) => d,
            (Some(_), None) => return None,
            (None, _) => Duration::from_secs(30 * 86_400),
        };
        let Some(sli) = &raw.sli else {
            self.at(at, "an SLO needs `sli` with `errors` (or `good`) and `total`");
            return None;
        };
        let total = self.sql(&Some(sli.value.total.clone()), line(sli), true)?;
        let sli = match (&sli.value.errors, &sli.value.good) {
            (Some(e), None) => Sli::Errors { errors: self.sql(&Some(e.clone()), line(sli), true)?, total },
            (None, Some(g)) => Sli::Good { good: self.sql(&Some(g.clone()), line(sli), true)?, total },
            _ => {
                self.err(sli, "`sli` takes exactly one of `errors` or `good`, and `total`");
                return None;
            }
        };
        let min_events = match &raw.min_events {
            Some(m) if m.value < 0.0 || !m.value.is_finite() => {
                self.err(m, "min_events must be zero or more");
                0.0
            }
            Some(m) => m.value,
            None => 1.0,
        };
        let (page_windows, ticket_windows) = match &raw.burn_windows {
            Some(w) => self.burn_windows(w, window),
            None => (BurnWindow::default_page(window), BurnWindow::default_ticket(window)),
        };
        let page = self.slo_alert(raw.page.as_ref(), "page", page_windows);
        let ticket = self.slo_alert(raw.ticket.as_ref(), "ticket", ticket_windows);
        if raw.for_.is_some() || raw.model.is_some() {
            self.at(at, "`for` and `model` do not apply to an SLO (its burn-rate windows replace `for`)");
        }
        Some(SloSpec {
            slo: name.value.clone(),
            service: service.value.clone(),
            objective,
            window,
            sli,
            min_events,
            page,
            ticket,
        })
    }

    fn burn_windows(
        &mut self,
        w: &Spanned<RawBurnWindows>,
        slo_window: Duration,
    ) -> (Vec<BurnWindow>, Vec<BurnWindow>) {
        let mut conv = |list: &[Spanned<super::file::RawBurnWindow>]| -> Vec<BurnWindow> {
            let mut out = Vec::new();
            for item in list {
                let long = self.duration(&Some(item.value.long.clone()), "long");
                let short = self.duration(&Some(item.value.short.clone()), "short");
                let pct = item.value.budget_percent.value;
                if !(pct > 0.0 && pct <= 100.0) {
                    self.err(&item.value.budget_percent, "budget_percent must be in (0, 100]");
                }
                if let (Some(l), Some(s)) = (long, short) {
                    if s.is_zero() || l <= s {
                        self.err(item, "the long window must be longer than the short one, both positive");
                    } else {
                        out.push(BurnWindow::new(l, s, pct, slo_window));
                    }
                }
            }
            out
        };
        let page = conv(&w.value.page);
        let ticket = conv(&w.value.ticket);
        if page.is_empty() && ticket.is_empty() {
            self.err(w, "burn_windows needs at least one `page` or `ticket` window");
        }
        (page, ticket)
    }

    fn slo_alert(
        &mut self,
        raw: Option<&Spanned<RawSloAlert>>,
        severity: &'static str,
        windows: Vec<BurnWindow>,
    ) -> Option<SloAlert> {
        let (labels, annotations) = match raw {
            Some(r) if r.value.disable => return None,
            Some(r) => (self.templates(&r.value.labels, true), self.templates(&r.value.annotations, false)),
            None => (Templates::new(), Templates::new()),
        };
        (!windows.is_empty()).then_some(SloAlert { severity, windows, labels, annotations })
    }

    fn anomaly(&mut self, raw: &RawRule, at: u64, interval: Duration) -> Option<AnomalySpec> {
        let sql = self.sql(&raw.sql, at, true)?;
        let Some(model) = &raw.model else {
            self.at(at, "an anomaly rule needs `model` (type: mad, seasonal or holt_winters)");
            return None;
        };
        let step = self.duration(&raw.step, "step").unwrap_or(interval);
        if step.is_zero() {
            self.at(at, "step must be positive");
            return None;
        }
        let model = self.model(model, step)?;
        let history = self.duration(&raw.history, "history").unwrap_or(match model {
            Model::Mad { window } => step * (window as u32 + 20),
            Model::Seasonal { season, seasons } => season * (seasons as u32 + 1),
            Model::HoltWinters { season, .. } => season * 4,
        });
        let direction = match raw.direction.as_ref().map(|d| d.value.as_str()) {
            None | Some("both") => Direction::Both,
            Some("above") => Direction::Above,
            Some("below") => Direction::Below,
            Some(other) => {
                if let Some(d) = &raw.direction {
                    self.err(d, format!("direction must be above, below or both, not {other:?}"));
                }
                return None;
            }
        };
        let threshold = raw.threshold.as_ref().map_or(3.0, |t| t.value);
        let trigger_window = raw.trigger_window.as_ref().map_or(5, |t| t.value);
        let trigger_fraction = raw.trigger_fraction.as_ref().map_or(0.6, |t| t.value);
        if threshold <= 0.0 || trigger_window == 0 || !(trigger_fraction > 0.0 && trigger_fraction <= 1.0) {
            self.at(at, "threshold must be positive, trigger_window at least 1, trigger_fraction in (0, 1]");
        }
        let warmup = self.duration(&raw.warmup, "warmup").unwrap_or(match model {
            Model::Mad { window } => step * window as u32,
            Model::Seasonal { season, .. } => season,
            Model::HoltWinters { season, .. } => season * 2,
        });
        Some(AnomalySpec {
            sql,
            model,
            history,
            step,
            direction,
            threshold,
            min_deviation: raw.min_deviation.as_ref().map_or(0.0, |m| m.value.abs()),
            warmup,
            trigger_window,
            trigger_fraction,
        })
    }

    fn model(&mut self, m: &Spanned<RawModel>, step: Duration) -> Option<Model> {
        let raw = &m.value;
        let season = || -> Option<Duration> { raw.season.as_ref().and_then(|s| duration::parse(&s.value).ok()) };
        let model = match raw.kind.value.as_str() {
            "mad" => Model::Mad { window: raw.window.unwrap_or(60) },
            "seasonal" => Model::Seasonal {
                season: season().unwrap_or(Duration::from_secs(86_400)),
                seasons: raw.seasons.unwrap_or(7),
            },
            "holt_winters" => Model::HoltWinters {
                season: season().unwrap_or(Duration::from_secs(86_400)),
                alpha: raw.alpha.unwrap_or(0.3),
                beta: raw.beta.unwrap_or(0.01),
                gamma: raw.gamma.unwrap_or(0.2),
            },
            other => {
                self.err(&raw.kind, format!("model type must be mad, seasonal or holt_winters, not {other:?}"));
                return None;
            }
        };
        if let Some(s) = &raw.season {
            if let Err(e) = duration::parse(&s.value) {
                self.err(s, format!("season: {e}"));
                return None;
            }
        }
        let ok = match model {
            Model::Mad { window } => window >= 3,
            Model::Seasonal { season, seasons } => {
                seasons >= 1 && season >= step && season.as_millis() % step.as_millis() == 0
            }
            Model::HoltWinters { season, alpha, beta, gamma } => {
                season >= step * 2
                    && season.as_millis() % step.as_millis() == 0
                    && [alpha, beta, gamma].iter().all(|v| *v > 0.0 && *v < 1.0)
            }
        };
        if !ok {
            self.err(
                m,
                "invalid model: mad needs window >= 3; seasonal and holt_winters need a season that is a multiple \
                 of step (holt_winters: at least two steps) and alpha, beta, gamma in (0, 1)",
            );
            return None;
        }
        Some(model)
    }
}

#[cfg(test)]
#[path = "load_tests.rs"]
mod tests;
