//! A model test of the core `Runtime`, without Bevy: random sequences of
//! spawns (main or worker, with hops, yields and sleeps), cancels, delayed
//! and interval timers, clock moves and pumps, checked against a simple
//! model of what must have run, what must not have, and what must have been
//! dropped. Deterministic mode with a manual clock, so the model knows exactly
//! which pump runs what; the seed of the scheduler's order is drawn too.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bevy_coro::prelude::*;

use bevy_coro::runtime::{Clock, ManualClock, Mode, Runtime, RuntimeConfig};
use bevy_coro::sleep_until;
use proptest::collection::vec;
use proptest::prelude::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Main,
    Worker,
}

#[derive(Debug, Clone, Copy)]
enum Step {
    /// A step run inside `.on::<side>()`.
    Hop(Side),
    Yield,
    /// `sleep_until(spawn time + ms)`: an absolute deadline the model knows.
    SleepUntil(u64),
}

#[derive(Debug, Clone)]
enum Op {
    Spawn {
        side: Side,
        steps: Vec<Step>,
    },
    /// Cancels task `task % tasks`, by `cancel()` or by dropping its handle.
    Cancel {
        task: usize,
        drop_handle: bool,
    },
    Delayed {
        side: Side,
        delay: u64,
    },
    Interval {
        side: Side,
        period: u64,
        first_after_period: bool,
    },
    /// Cancels timer `timer % timers`.
    CancelTimer(usize),
    /// Moves the clock by this many ms.
    Advance(u64),
    Pump,
    /// Pumps until everything that can run has, without moving the clock,
    /// then checks that it did.
    Settle,
}

fn side() -> impl Strategy<Value = Side> {
    prop_oneof![Just(Side::Main), Just(Side::Worker)]
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        side().prop_map(Step::Hop),
        Just(Step::Yield),
        (0u64..300).prop_map(Step::SleepUntil),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (side(), vec(step(), 0..6)).prop_map(|(side, steps)| Op::Spawn { side, steps }),
        2 => (any::<usize>(), any::<bool>())
            .prop_map(|(task, drop_handle)| Op::Cancel { task, drop_handle }),
        1 => (side(), 0u64..300).prop_map(|(side, delay)| Op::Delayed { side, delay }),
        1 => (side(), 1u64..80, any::<bool>()).prop_map(|(side, period, first_after_period)| {
            Op::Interval { side, period, first_after_period }
        }),
        1 => any::<usize>().prop_map(Op::CancelTimer),
        3 => (0u64..120).prop_map(Op::Advance),
        3 => Just(Op::Pump),
        1 => Just(Op::Settle),
    ]
}

/// What the test knows of one spawned task.
struct TaskModel {
    steps: Vec<Step>,
    /// Absolute deadline (ms on the clock) of each step, 0 for non-sleeps.
    deadlines: Vec<u64>,
    /// Steps done so far, counted by the task itself.
    progress: Arc<AtomicUsize>,
    /// Set if a step ran out of order or twice.
    disorder: Arc<AtomicBool>,
    /// Drops of the task's future.
    drops: Arc<AtomicUsize>,
    handle: Option<Task<usize>>,
    /// At the cancel: the progress, and whether the task had finished.
    cancelled: Option<(usize, bool)>,
    result: Option<Result<usize, TaskError>>,
}

impl TaskModel {
    /// The steps the task can have done by `now`: up to its first sleep
    /// whose deadline is still ahead.
    fn reachable(&self, now: u64) -> usize {
        (0..self.steps.len())
            .find(|&k| matches!(self.steps[k], Step::SleepUntil(_)) && self.deadlines[k] > now)
            .unwrap_or(self.steps.len())
    }
}

/// What the test knows of one delayed or interval task.
struct TimerModel {
    token: TimerHandle,
    cancelled: bool,
    /// The clock (ms) when it was cancelled.
    cancelled_at: Option<u64>,
    /// Drops of the run futures, one per run.
    run_drops: Arc<AtomicUsize>,
    kind: TimerKind,
}

enum TimerKind {
    Delayed {
        due: u64,
        fired: bool,
    },
    Interval {
        origin: u64,
        period: u64,
        /// The index of the next tick to run.
        next: u64,
        runs: u64,
        skipped: u64,
    },
}

impl TimerModel {
    /// What a pump at `now` does to this timer: runs that are due, once each,
    /// and for an interval the grid `origin + k·period` with missed ticks
    /// skipped (the runs take no time, so only clock jumps miss ticks).
    fn pump(&mut self, now: u64) {
        if self.cancelled {
            return;
        }
        match &mut self.kind {
            TimerKind::Delayed { due, fired } => {
                if !*fired && *due <= now {
                    *fired = true;
                }
            }
            TimerKind::Interval {
                origin,
                period,
                next,
                runs,
                skipped,
            } => {
                while *origin + *next * *period <= now {
                    *runs += 1;
                    *next += 1;
                    if *origin + *next * *period < now {
                        let reached = (now - *origin).div_ceil(*period);
                        *skipped += reached - *next;
                        *next = reached;
                    }
                }
            }
        }
    }

    fn runs(&self) -> u64 {
        match &self.kind {
            TimerKind::Delayed { fired, .. } => u64::from(*fired),
            TimerKind::Interval { runs, .. } => *runs,
        }
    }
}

struct Harness {
    runtime: Runtime,
    /// Worker threads run worker tasks: only what does not depend on their
    /// timing is checked (see `check` and `settle`).
    threaded: bool,
    clock: ManualClock,
    tasks: Vec<TaskModel>,
    timers: Vec<TimerModel>,
}

impl Harness {
    /// A deterministic runtime with this seed, or (`None`) a threaded one
    /// with two workers.
    fn new(seed: Option<u64>) -> Self {
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

    fn now(&self) -> u64 {
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

    fn pump(&mut self) {
        let now = self.now();
        self.runtime.pump(Instant::now(), None);
        for timer in &mut self.timers {
            timer.pump(now);
        }
    }

    /// Enough pumps for every step that can run to have run: a step takes at
    /// most a frame or two (a yield or a hop to main waits for the next one).
    fn settle(&mut self) {
        if self.threaded {
            return self.settle_threaded();
        }
        let longest = self.tasks.iter().map(|t| t.steps.len()).max().unwrap_or(0);
        for _ in 0..2 * longest + 4 {
            self.pump();
        }
        let now = self.now();
        for (i, model) in self.tasks.iter_mut().enumerate() {
            let progress = model.progress.load(Ordering::SeqCst);
            if let Some(handle) = &mut model.handle
                && model.result.is_none()
            {
                model.result = handle.try_take();
            }
            match model.cancelled {
                None => {
                    let reachable = model.reachable(now);
                    assert_eq!(progress, reachable, "task {i}: steps done after settling");
                    let done = reachable == model.steps.len();
                    if done {
                        assert_eq!(model.result, Some(Ok(model.steps.len())), "task {i}");
                    } else {
                        assert_eq!(model.result, None, "task {i} finished early");
                    }
                    assert_eq!(
                        model.drops.load(Ordering::SeqCst),
                        usize::from(done),
                        "task {i}"
                    );
                }
                Some((_, finished)) => {
                    if model.handle.is_some() {
                        let expected = if finished {
                            Ok(model.steps.len())
                        } else {
                            Err(TaskError::Cancelled)
                        };
                        assert_eq!(model.result, Some(expected), "cancelled task {i}");
                    }
                    assert_eq!(model.drops.load(Ordering::SeqCst), 1, "cancelled task {i}");
                }
            }
        }
    }

    /// Pumps until every task has done what it can by now, and every
    /// cancelled one is over; a lost wake fails at the watchdog bound.
    fn settle_threaded(&mut self) {
        let now = self.now();
        let start = Instant::now();
        loop {
            self.pump();
            let mut waiting = Vec::new();
            for (i, model) in self.tasks.iter_mut().enumerate() {
                if let Some(handle) = &mut model.handle
                    && model.result.is_none()
                {
                    model.result = handle.try_take();
                }
                let progress = model.progress.load(Ordering::SeqCst);
                let drops = model.drops.load(Ordering::SeqCst);
                let settled = match model.cancelled {
                    None => {
                        let done = model.reachable(now) == model.steps.len();
                        progress == model.reachable(now)
                            && model.result.is_some() == done
                            && drops == usize::from(done)
                    }
                    Some(_) => drops == 1 && model.handle.is_none() == model.result.is_none(),
                };
                if !settled {
                    waiting.push(i);
                }
            }
            for (i, timer) in self.timers.iter().enumerate() {
                if let TimerKind::Delayed { due, .. } = timer.kind
                    && !timer.cancelled
                    && due <= now
                    && timer.token.runs_started() != 1
                {
                    waiting.push(1_000_000 + i);
                }
            }
            if waiting.is_empty() {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "watchdog: tasks (timers from 1,000,000) not settled: {waiting:?}"
            );
            std::thread::yield_now();
        }
        for (i, model) in self.tasks.iter().enumerate() {
            match model.cancelled {
                None => {
                    let done = model.reachable(now) == model.steps.len();
                    assert_eq!(
                        model.result,
                        done.then_some(Ok(model.steps.len())),
                        "task {i}"
                    );
                }
                // A poll in progress at the cancel may finish the task.
                Some((_, finished)) => {
                    if let Some(result) = &model.result {
                        assert!(
                            *result == Err(TaskError::Cancelled)
                                || (*result == Ok(model.steps.len())
                                    && model.progress.load(Ordering::SeqCst) == model.steps.len()),
                            "cancelled task {i}: {result:?}"
                        );
                        if finished {
                            assert_eq!(*result, Ok(model.steps.len()), "cancelled task {i}");
                        }
                    }
                }
            }
        }
    }

    /// What holds after every op: nothing ran before its time or after its
    /// cancel, nothing was dropped twice, timers ran as the model says.
    fn check(&self) {
        let now = self.now();
        for (i, model) in self.tasks.iter().enumerate() {
            let progress = model.progress.load(Ordering::SeqCst);
            assert!(
                !model.disorder.load(Ordering::SeqCst),
                "task {i}: a step ran twice or out of order"
            );
            assert!(
                progress <= model.reachable(now),
                "task {i}: {progress} steps done, but a sleep of step {} is not due",
                model.reachable(now)
            );
            if let Some((at_cancel, _)) = model.cancelled
                && !self.threaded
            {
                assert_eq!(progress, at_cancel, "task {i} ran on after its cancel");
            }
            assert!(
                model.drops.load(Ordering::SeqCst) <= 1,
                "task {i}: future dropped twice"
            );
        }
        for (i, timer) in self.timers.iter().enumerate() {
            if self.threaded {
                // When a worker run happens depends on the threads; what is
                // certain: a delayed task runs at most once, and never when
                // cancelled before its deadline.
                let runs = timer.token.runs_started();
                if let TimerKind::Delayed { due, .. } = timer.kind {
                    assert!(runs <= 1, "timer {i}: a delayed task ran {runs} times");
                    if timer.cancelled_at.is_some_and(|at| at < due) {
                        assert_eq!(
                            runs, 0,
                            "timer {i} ran although cancelled before its deadline"
                        );
                    }
                }
                assert!(
                    timer.run_drops.load(Ordering::SeqCst) as u64 <= runs,
                    "timer {i}"
                );
                continue;
            }
            assert_eq!(timer.token.runs_started(), timer.runs(), "timer {i}: runs");
            if let TimerKind::Interval { skipped, .. } = timer.kind {
                assert_eq!(
                    timer.token.ticks_skipped(),
                    skipped,
                    "timer {i}: skipped ticks"
                );
            }
            // Each run's future is done within its pump and dropped once.
            assert_eq!(
                timer.run_drops.load(Ordering::SeqCst) as u64,
                timer.runs(),
                "timer {i}: run futures dropped"
            );
        }
    }

    fn apply(&mut self, op: Op) {
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

    /// Settles, then drops the runtime: every future dropped exactly once.
    fn finish(mut self) {
        self.settle();
        self.check();
        let handle = self.runtime.handle().clone();
        let Harness {
            runtime,
            tasks,
            timers,
            ..
        } = self;
        drop(runtime);
        for (i, model) in tasks.iter().enumerate() {
            assert_eq!(
                model.drops.load(Ordering::SeqCst),
                1,
                "task {i}: drops after shutdown"
            );
        }
        for (i, timer) in timers.iter().enumerate() {
            assert_eq!(
                timer.run_drops.load(Ordering::SeqCst) as u64,
                timer.token.runs_started(),
                "timer {i}: run futures dropped after shutdown"
            );
        }
        assert_eq!(handle.in_flight(), 0, "tasks left in flight after shutdown");
    }
}

/// Bumps its counter when dropped.
struct DropGuard(Arc<AtomicUsize>);

impl Drop for DropGuard {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        // No regression files written into the tree; a failure prints its
        // shrunk ops, to be pasted into a test.
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_deterministic_runtime_agrees_with_the_model(
        seed in any::<u64>(),
        ops in vec(op(), 1..60),
    ) {
        let mut harness = Harness::new(Some(seed));
        for op in ops {
            harness.apply(op);
        }
        harness.finish();
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        // Each case starts and joins two worker threads.
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn the_threaded_runtime_loses_no_task_and_drops_each_future_once(
        ops in vec(op(), 1..60),
    ) {
        let mut harness = Harness::new(None);
        for op in ops {
            harness.apply(op);
        }
        harness.finish();
    }
}
