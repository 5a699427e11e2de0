//! Settling the runtime and checking it against the model, after each op
//! and at the end.

use super::models::TimerKind;
use super::*;

impl Harness {
    /// Enough pumps for every step that can run to have run: a step takes at
    /// most a frame or two (a yield or a hop to main waits for the next one).
    pub(crate) fn settle(&mut self) {
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
    pub(crate) fn check(&self) {
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

    /// Settles, then drops the runtime: every future dropped exactly once.
    pub(crate) fn finish(mut self) {
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
