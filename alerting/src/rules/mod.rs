//! Rules as the evaluator runs them: groups of threshold, SLO and anomaly
//! rules, loaded from YAML files ([`load`]) and checked against the catalog
//! ([`check`]).

pub mod check;
pub(crate) mod file;
pub mod load;
pub mod macros;
pub mod template;

use std::path::PathBuf;
use std::time::Duration;

use template::Templates;

pub use load::{load_dir, load_file, LoadOptions};

/// Everything loaded from a rules directory.
#[derive(Debug, Clone, Default)]
pub struct RuleSet {
    /// Groups, in file then position order.
    pub groups: Vec<Group>,
}

/// Rules evaluated in order, every `interval`.
#[derive(Debug, Clone)]
pub struct Group {
    /// Group name (unique within its file).
    pub name: String,
    /// The file it came from.
    pub file: PathBuf,
    /// Evaluation interval.
    pub interval: Duration,
    /// Most alert instances one rule may hold.
    pub limit: usize,
    /// The rules.
    pub rules: Vec<Rule>,
}

impl Group {
    /// A stable identity across reloads: file and group name.
    pub fn key(&self) -> String {
        format!("{};{}", self.file.display(), self.name)
    }
}

/// One rule of a group.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Alert name (`alertname` label) of its alerts.
    pub name: String,
    /// Line of the rule in its file.
    pub line: u64,
    /// How long a condition must hold before the alert fires.
    pub for_: Duration,
    /// How long a firing alert stays firing after the condition clears.
    pub keep_firing_for: Duration,
    /// Extra labels (templates).
    pub labels: Templates,
    /// Annotations (templates).
    pub annotations: Templates,
    /// What is evaluated.
    pub kind: RuleKind,
}

/// The three kinds of rules.
#[derive(Debug, Clone)]
pub enum RuleKind {
    /// SQL whose rows (label columns and `value`) are the alert instances.
    Threshold {
        /// The query.
        sql: String,
    },
    /// Multiwindow multi-burn-rate alerts derived from an SLO.
    Slo(Box<SloSpec>),
    /// A series compared with what a model expected.
    Anomaly(Box<AnomalySpec>),
}

impl RuleKind {
    /// `threshold`, `slo` or `anomaly`.
    pub fn name(&self) -> &'static str {
        match self {
            RuleKind::Threshold { .. } => "threshold",
            RuleKind::Slo(_) => "slo",
            RuleKind::Anomaly(_) => "anomaly",
        }
    }

    /// Every SQL text of the rule, with what it is for.
    pub fn queries(&self) -> Vec<(&'static str, &str)> {
        match self {
            RuleKind::Threshold { sql } => vec![("sql", sql)],
            RuleKind::Slo(s) => {
                let bad = match &s.sli {
                    Sli::Errors { errors, .. } => ("sli.errors", errors.as_str()),
                    Sli::Good { good, .. } => ("sli.good", good.as_str()),
                };
                vec![bad, ("sli.total", s.sli.total())]
            }
            RuleKind::Anomaly(a) => vec![("sql", a.sql.as_str())],
        }
    }
}

/// An SLO (Sloth-like): objective over a window, an SLI as two counts.
#[derive(Debug, Clone)]
pub struct SloSpec {
    /// SLO name (`slo` label).
    pub slo: String,
    /// Service (`service` label).
    pub service: String,
    /// Objective in percent, e.g. 99.9.
    pub objective: f64,
    /// Compliance window, e.g. 30 days.
    pub window: Duration,
    /// The SLI queries.
    pub sli: Sli,
    /// Fewest events in a window for its burn rate to count (traffic guard).
    pub min_events: f64,
    /// The page alert (None: disabled).
    pub page: Option<SloAlert>,
    /// The ticket alert (None: disabled).
    pub ticket: Option<SloAlert>,
}

impl SloSpec {
    /// The error budget as a ratio (1 - objective).
    pub fn budget(&self) -> f64 {
        1.0 - self.objective / 100.0
    }
}

/// The SLI: each query returns one `value` (optionally per label set), the
/// count of events in the window the evaluator fills in for `$__timeFilter`.
#[derive(Debug, Clone)]
pub enum Sli {
    /// Bad events and all events.
    Errors {
        /// Bad events.
        errors: String,
        /// All events.
        total: String,
    },
    /// Good events and all events.
    Good {
        /// Good events.
        good: String,
        /// All events.
        total: String,
    },
}

impl Sli {
    /// The total-events query.
    pub fn total(&self) -> &str {
        match self {
            Sli::Errors { total, .. } | Sli::Good { total, .. } => total,
        }
    }
}

/// The page or the ticket alert of an SLO.
#[derive(Debug, Clone)]
pub struct SloAlert {
    /// `page` or `ticket`.
    pub severity: &'static str,
    /// Window pairs; the alert fires when any pair burns too fast.
    pub windows: Vec<BurnWindow>,
    /// Extra labels.
    pub labels: Templates,
    /// Annotations.
    pub annotations: Templates,
}

/// A long and a short window, both of which must burn faster than `factor`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BurnWindow {
    /// Long window.
    pub long: Duration,
    /// Short window (stops the alert soon after the burn stops).
    pub short: Duration,
    /// Share of the error budget (percent) that burning for `long` at `factor` consumes.
    pub budget_percent: f64,
    /// Burn-rate threshold: `budget_percent / 100 * slo_window / long`.
    pub factor: f64,
}

impl BurnWindow {
    /// A window pair whose factor is derived from the SLO window.
    pub fn new(long: Duration, short: Duration, budget_percent: f64, slo_window: Duration) -> Self {
        let factor = budget_percent / 100.0 * slo_window.as_secs_f64() / long.as_secs_f64();
        Self { long, short, budget_percent, factor }
    }

    /// The Google SRE workbook's page windows for an SLO window: 2% of the
    /// budget in 1h (14.4x for 30 days), 5% in 6h (6x).
    pub fn default_page(slo_window: Duration) -> Vec<Self> {
        vec![Self::new(H, 5 * M, 2.0, slo_window), Self::new(6 * H, 30 * M, 5.0, slo_window)]
    }

    /// The ticket windows: 10% in 1d (3x for 30 days), 10% in 3d (1x).
    pub fn default_ticket(slo_window: Duration) -> Vec<Self> {
        vec![Self::new(24 * H, 2 * H, 10.0, slo_window), Self::new(72 * H, 6 * H, 10.0, slo_window)]
    }
}

const M: Duration = Duration::from_secs(60);
const H: Duration = Duration::from_secs(3600);

/// An anomaly rule: the series the SQL returns, judged by a model.
#[derive(Debug, Clone)]
pub struct AnomalySpec {
    /// Returns `time`, `value` and label columns; uses `$__timeFilter`.
    pub sql: String,
    /// The model.
    pub model: Model,
    /// How much history the query covers.
    pub history: Duration,
    /// Spacing of the points (the query should bucket to it).
    pub step: Duration,
    /// Which deviations count.
    pub direction: Direction,
    /// Robust z-score past which a point is anomalous.
    pub threshold: f64,
    /// Smallest absolute deviation that counts.
    pub min_deviation: f64,
    /// History a series needs before it is judged.
    pub warmup: Duration,
    /// The trigger looks at the last this many points ...
    pub trigger_window: usize,
    /// ... and fires when at least this fraction of them is anomalous.
    pub trigger_fraction: f64,
}

/// Anomaly models.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Model {
    /// Rolling median and MAD of the previous `window` points.
    Mad {
        /// Points in the window.
        window: usize,
    },
    /// Median and MAD of the same time in the last `seasons` seasons.
    Seasonal {
        /// Season length.
        season: Duration,
        /// How many past seasons.
        seasons: usize,
    },
    /// Additive Holt-Winters; residuals scaled by their MAD.
    HoltWinters {
        /// Season length.
        season: Duration,
        /// Level smoothing.
        alpha: f64,
        /// Trend smoothing.
        beta: f64,
        /// Season smoothing.
        gamma: f64,
    },
}

/// Which side of the expectation counts as anomalous.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Only above.
    Above,
    /// Only below.
    Below,
    /// Both.
    Both,
}
