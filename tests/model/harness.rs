//! The runtime under test beside its model: making it, and applying each op.

use super::models::{TaskModel, TimerKind, TimerModel};
use super::*;

pub(crate) struct Harness {
    pub(crate) runtime: Runtime,
    /// Worker threads run worker tasks: only what does not depend on their
    /// timing is checked (see `check` and `settle`).
    pub(crate) threaded: bool,
    pub(crate) clock: ManualClock,
    pub(crate) tasks: Vec<TaskModel>,
    pub(crate) timers: Vec<TimerModel>,
}

impl Harness {
    /// A deterministic runtime with this seed, or (`None`) a threaded one
    /// with two workers.
    pub(crate) fn new(seed: Option<u64>) -> Self {
        let clock = ManualClock::new();
        let mode = match seed {
            Some(seed) => Mode::Deterministic {
                seed,
                frame_step: Duration::ZERO,
            },
            None => Mode::Threaded,
        };
        let runtime = Runtime::new(RuntimeConfig {
            workers: 2,
            clock: Clock::Manual(clock.clone()),
            mode,
            ..Default::default()
        })
        .unwrap();
        Harness {
            runtime,
            threaded: seed.is_none(),
            clock,
            tasks: Vec::new(),
            timers: Vec::new(),
        }
    }

    pub(crate) fn now(&self) -> u64 {
        self.clock.elapsed().as_millis() as u64
    }

    fn spawn(&mut self, side: Side, steps: Vec<Step>) {
        let now = self.now();
        let start = self.runtime.now();
        let deadlines: Vec<u64> = steps
            .iter()
            .map(|step| match step {
                Step::SleepUntil(ms) => now + ms,
                _ => 0,
            })
            .collect();
        let progress = Arc::new(AtomicUsize::new(0));
        let disorder = Arc::new(AtomicBool::new(false));
        let drops = Arc::new(AtomicUsize::new(0));
        let future = {
            let (steps, progress, disorder) = (steps.clone(), progress.clone(), disorder.clone());
            let guard = DropGuard(drops.clone());
            async move {
                let _guard = guard;
                for (k, step) in steps.iter().enumerate() {
                    let record = {
                        let (progress, disorder) = (progress.clone(), disorder.clone());
                        move || {
                            if progress.fetch_add(1, Ordering::SeqCst) != k {
                                disorder.store(true, Ordering::SeqCst);
                            }
                        }
                    };
                    match *step {
                        Step::Hop(Side::Main) => async move { record() }.on::<Main>().await,
                        Step::Hop(Side::Worker) => async move { record() }.on::<Worker>().await,
                        Step::Yield => {
                            yield_now().await;
                            record();
                        }
                        Step::SleepUntil(ms) => {
                            sleep_until(start + Duration::from_millis(ms)).await;
                            record();
                        }
                    }
                }
                steps.len()
            }
        };
        let handle = match side {
            Side::Main => self.runtime.spawn::<Main>(future),
            Side::Worker => self.runtime.spawn::<Worker>(future),
        };
        self.tasks.push(TaskModel {
            steps,
            deadlines,
            progress,
            disorder,
            drops,
            handle: Some(handle),
            cancelled: None,
            result: None,
        });
    }

    fn cancel(&mut self, task: usize, drop_handle: bool) {
        if self.tasks.is_empty() {
            return;
        }
        let n = self.tasks.len();
        let model = &mut self.tasks[task % n];
        if model.cancelled.is_some() || model.result.is_some() {
            return;
        }
        let Some(handle) = &model.handle else { return };
        model.cancelled = Some((model.progress.load(Ordering::SeqCst), handle.is_finished()));
        if drop_handle {
            model.handle = None;
        } else {
            handle.cancel();
        }
    }

    fn timer(&mut self, side: Side, delay_or_period: u64, interval: Option<bool>) {
        let now = self.now();
        let run_drops = Arc::new(AtomicUsize::new(0));
        let factory = {
            let run_drops = run_drops.clone();
            move || {
                let guard = DropGuard(run_drops.clone());
                async move {
                    let _guard = guard;
                }
            }
        };
        let ms = Duration::from_millis(delay_or_period);
        let (token, kind) = match interval {
            None => {
                let after = self.runtime.after(ms);
                let token = match side {
                    Side::Main => after.run(factory),
                    Side::Worker => after.on::<Worker>().run(factory),
                };
                let due = now + delay_or_period;
                (token, TimerKind::Delayed { due, fired: false })
            }
            Some(first_after_period) => {
                let mut every = self.runtime.every(ms);
                if side == Side::Worker {
                    every = every.on::<Worker>();
                }
                if first_after_period {
                    every = every.first_after_period();
                }
                let token = every.run(factory);
                let kind = TimerKind::Interval {
                    origin: now,
                    period: delay_or_period,
                    next: u64::from(first_after_period),
                    runs: 0,
                    skipped: 0,
                };
                (token, kind)
            }
        };
        self.timers.push(TimerModel {
            token,
            cancelled: false,
            cancelled_at: None,
            run_drops,
            kind,
        });
    }

    pub(crate) fn pump(&mut self) {
        let now = self.now();
        self.runtime.pump(Instant::now(), None);
        for timer in &mut self.timers {
            timer.pump(now);
        }
    }

    pub(crate) fn apply(&mut self, op: Op) {
        match op {
            Op::Spawn { side, steps } => self.spawn(side, steps),
            Op::Cancel { task, drop_handle } => self.cancel(task, drop_handle),
            Op::Delayed { side, delay } => self.timer(side, delay, None),
            Op::Interval {
                side,
                period,
                first_after_period,
            } => self.timer(side, period, Some(first_after_period)),
            Op::CancelTimer(timer) => {
                if !self.timers.is_empty() {
                    let (n, now) = (self.timers.len(), self.now());
                    let timer = &mut self.timers[timer % n];
                    timer.token.cancel();
                    timer.cancelled = true;
                    timer.cancelled_at.get_or_insert(now);
                }
            }
            Op::Advance(ms) => self.clock.advance(Duration::from_millis(ms)),
            Op::Pump => self.pump(),
            Op::Settle => self.settle(),
        }
        self.check();
    }
}
