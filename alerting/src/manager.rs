//! [`Alerting`]: the rule set in force, one task per group, reload.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use crate::clock::{Clock, SystemClock};
use crate::config::AlertingConfig;
use crate::error::{Error, Result, RuleError};
use crate::eval::source::QuerySource;
use crate::eval::{AlertSink, EvalConfig, Evaluator, GroupRunner};
use crate::history::History;
use crate::notify::{self, Notifier};
use crate::rules::check::{check_rules, Planner};
use crate::rules::{load_dir, LoadOptions, RuleSet};
use crate::state::StateDir;

/// Outcome of the last reload.
#[derive(Debug, Clone, Default)]
pub struct ReloadStatus {
    /// Whether it succeeded.
    pub ok: bool,
    /// Errors that refused it.
    pub errors: Vec<RuleError>,
    /// Plan warnings of the rules in force (e.g. a table that does not exist yet).
    pub warnings: Vec<RuleError>,
}

/// The alerting subsystem.
#[derive(Debug)]
pub struct Alerting {
    ev: Arc<Evaluator>,
    rules_dir: Option<PathBuf>,
    load: LoadOptions,
    planner: Option<Arc<dyn Planner>>,
    groups: RwLock<Vec<Arc<GroupRunner>>>,
    reload_lock: tokio::sync::Mutex<()>,
    running: Mutex<Option<watch::Sender<bool>>>,
    status: Mutex<ReloadStatus>,
    notifier: Option<Arc<Notifier>>,
}

impl Alerting {
    /// Alerting over `ev` with the rules of `rules_dir`; call
    /// [`Alerting::reload`] to load them and [`Alerting::run`] to start the
    /// group tasks.
    pub fn new(
        ev: Arc<Evaluator>,
        rules_dir: Option<PathBuf>,
        load: LoadOptions,
        planner: Option<Arc<dyn Planner>>,
        notifier: Option<Arc<Notifier>>,
    ) -> Arc<Self> {
        Arc::new(Self {
            ev,
            rules_dir,
            load,
            planner,
            groups: RwLock::new(Vec::new()),
            reload_lock: tokio::sync::Mutex::new(()),
            running: Mutex::new(None),
            status: Mutex::new(ReloadStatus::default()),
            notifier,
        })
    }

    /// The server's alerting: queries through `engine`, state under
    /// `{data_dir}/alerts`, notifications as `cfg` says, rules loaded and
    /// group tasks running. A rule-file error is logged and leaves no rules
    /// in force until a reload succeeds.
    pub async fn start<E>(cfg: &AlertingConfig, data_dir: &Path, engine: E) -> Result<Arc<Self>>
    where
        E: QuerySource + Planner + Clone + 'static,
    {
        cfg.validate()?;
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let (notifier, _task) = notify::spawn(cfg, clock.clone())?;
        let ev = Evaluator::new(
            Arc::new(engine.clone()),
            clock,
            Some(StateDir::new(data_dir.join("alerts"))),
            Arc::new(History::new(cfg.history_size)),
            Some(notifier.clone() as Arc<dyn AlertSink>),
            EvalConfig {
                resend_interval: AlertingConfig::duration(&cfg.resend_interval),
                max_concurrent_queries: cfg.max_concurrent_queries,
            },
        );
        let load = LoadOptions {
            default_interval: AlertingConfig::duration(&cfg.default_interval),
            default_limit: cfg.max_alerts_per_rule,
            max_rules: cfg.max_rules,
        };
        let a = Self::new(Arc::new(ev), cfg.rules_dir.clone(), load, Some(Arc::new(engine)), Some(notifier));
        a.run();
        if a.rules_dir.is_some() {
            match a.reload().await {
                Ok(n) => tracing::info!(groups = n, "alerting rules loaded"),
                Err(e) => tracing::error!(error = %e, "alerting rules not loaded"),
            }
        }
        Ok(a)
    }

    /// The evaluator.
    pub fn evaluator(&self) -> &Arc<Evaluator> {
        &self.ev
    }

    /// The notifier, when there is one.
    pub fn notifier(&self) -> Option<&Arc<Notifier>> {
        self.notifier.as_ref()
    }

    /// The groups in force.
    pub fn groups(&self) -> Vec<Arc<GroupRunner>> {
        self.groups.read().clone()
    }

    /// The last reload's outcome.
    pub fn reload_status(&self) -> ReloadStatus {
        self.status.lock().clone()
    }

    /// Start a task per group (now and after each reload).
    pub fn run(self: &Arc<Self>) {
        let (tx, _) = watch::channel(false);
        *self.running.lock() = Some(tx);
        for g in self.groups() {
            self.spawn_group(g);
        }
    }

    /// Stop the group tasks (a running evaluation finishes first).
    pub async fn shutdown(&self) {
        if let Some(tx) = self.running.lock().take() {
            let _ = tx.send(true);
        }
        for g in self.groups() {
            g.retire().await;
        }
    }

    fn spawn_group(&self, runner: Arc<GroupRunner>) {
        let Some(mut stop) = self.running.lock().as_ref().map(watch::Sender::subscribe) else { return };
        let ev = self.ev.clone();
        tokio::spawn(async move {
            let mut ticker = tokio::time::interval(runner.group().interval);
            ticker.set_missed_tick_behavior(MissedTickBehavior::Skip);
            loop {
                tokio::select! {
                    _ = ticker.tick() => {}
                    _ = stop.changed() => break,
                }
                if runner.is_retired() {
                    break;
                }
                runner.evaluate(&ev).await;
            }
        });
    }

    /// Load the rules directory again; on success replace the rules in force
    /// (alerts of unchanged rules carry over), else keep them and return the
    /// errors. Returns the number of groups.
    pub async fn reload(self: &Arc<Self>) -> Result<usize> {
        let _g = self.reload_lock.lock().await;
        let Some(dir) = self.rules_dir.clone() else {
            return Err(Error::Config("alerting.rules_dir is not set".into()));
        };
        let load = self.load.clone();
        let loaded = tokio::task::spawn_blocking(move || load_dir(&dir, &load))
            .await
            .map_err(|e| Error::Config(format!("loading rules: {e}")))?;
        let set: RuleSet = match loaded {
            Ok(set) => set,
            Err(errors) => {
                for e in &errors {
                    tracing::error!(error = %e, "rule file error");
                }
                let mut st = self.status.lock();
                st.ok = false;
                st.errors = errors.clone();
                return Err(Error::Rules(errors));
            }
        };
        let warnings = match &self.planner {
            Some(p) => check_rules(&set, p.as_ref(), self.ev.now()).await,
            None => Vec::new(),
        };
        for w in &warnings {
            tracing::warn!(warning = %w, "rule does not plan against the current catalog");
        }
        let old: Vec<Arc<GroupRunner>> = self.groups();
        let mut new = Vec::with_capacity(set.groups.len());
        for group in set.groups {
            let key = group.key();
            let state = match old.iter().find(|o| o.group().key() == key) {
                Some(o) => Some(o.retire().await),
                None => match self.ev.state_dir().cloned() {
                    Some(sd) => {
                        let k = key.clone();
                        match tokio::task::spawn_blocking(move || sd.load(&k)).await {
                            Ok(Ok(s)) => s,
                            Ok(Err(e)) => {
                                tracing::error!(group = %group.name, error = %e, "alert state not restored");
                                None
                            }
                            Err(e) => {
                                tracing::error!(group = %group.name, error = %e, "alert state not restored");
                                None
                            }
                        }
                    }
                    None => None,
                },
            };
            new.push(Arc::new(GroupRunner::new(group, state)));
        }
        for o in &old {
            if !o.is_retired() {
                o.retire().await;
            }
        }
        let n = new.len();
        *self.groups.write() = new.clone();
        for g in new {
            self.spawn_group(g);
        }
        *self.status.lock() = ReloadStatus { ok: true, errors: Vec::new(), warnings };
        Ok(n)
    }

    /// Evaluate every group once, now (tests and tools).
    pub async fn evaluate_once(&self) {
        for g in self.groups() {
            g.evaluate(&self.ev).await;
        }
    }
}
