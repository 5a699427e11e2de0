//! The reliability suite's stress tests: counts, never times. A million tasks
//! through every path of the scheduler with each step counted once, a storm of
//! wakes from foreign threads with none lost, and a thousand Apps dropped
//! mid-flight with every future dropped exactly once and no hang.

mod common;

use std::cell::Cell;
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::thread;
use std::time::Duration;

use bevy_coro::prelude::*;
use common::*;

/// The steps of one task in the million, one bit each.
const STARTED: u8 = 1;
const HOPPED: u8 = 2;
const YIELDED: u8 = 4;
const ENDED: u8 = 8;
const ALL_STEPS: u8 = STARTED | HOPPED | YIELDED | ENDED;

/// Per-task step bits; a step seen twice is counted in `repeats`.
struct Steps {
    bits: Vec<AtomicU8>,
    repeats: AtomicUsize,
    done: AtomicUsize,
    /// Threads that ran a step meant for a worker.
    worker_threads: Mutex<HashSet<String>>,
}

impl Steps {
    fn mark(&self, task: usize, step: u8) {
        if self.bits[task].fetch_or(step, Ordering::Relaxed) & step != 0 {
            self.repeats.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Notes the worker this runs on, once per thread (no lock per task).
    fn on_worker(&self) {
        thread_local!(static NOTED: Cell<bool> = const { Cell::new(false) });
        if !NOTED.replace(true) {
            self.worker_threads
                .lock()
                .unwrap()
                .insert(thread::current().name().unwrap_or("unnamed").to_owned());
        }
    }
}

/// One of four shapes, so every path is taken: spawn on either side, hop to
/// the other, yield on either side, complete.
async fn stepper(steps: Arc<Steps>, i: usize) {
    steps.mark(i, STARTED);
    match i % 4 {
        0 => {
            // Main: hop to a worker, yield on main (next frame).
            let s = steps.clone();
            async move {
                s.on_worker();
                s.mark(i, HOPPED);
            }
            .on::<Worker>()
            .await;
            yield_now().await;
            steps.mark(i, YIELDED);
        }
        1 => {
            // Worker: hop to main, yield on the worker.
            let s = steps.clone();
            async move { s.mark(i, HOPPED) }.on::<Main>().await;
            steps.on_worker();
            yield_now().await;
            steps.mark(i, YIELDED);
        }
        2 => {
            // Main: yield inside the hop, on the worker's side.
            let s = steps.clone();
            async move {
                yield_now().await;
                s.on_worker();
                s.mark(i, YIELDED);
                s.mark(i, HOPPED);
            }
            .on::<Worker>()
            .await;
        }
        _ => {
            // Worker: yield first, then a hop to main.
            steps.on_worker();
            yield_now().await;
            steps.mark(i, YIELDED);
            let s = steps.clone();
            async move { s.mark(i, HOPPED) }.on::<Main>().await;
        }
    }
    steps.mark(i, ENDED);
    steps.done.fetch_add(1, Ordering::Relaxed);
}

#[test]
fn a_million_tasks_spawn_hop_yield_and_complete_each_step_once() {
    const TASKS: usize = 1_000_000;
    // Tasks alive at once: enough to keep every queue busy, few enough that
    // memory stays small; spawning goes on while the others run.
    const WINDOW: usize = 50_000;
    let mut app = app(2);
    let coro = coro(&app);
    let steps = Arc::new(Steps {
        bits: (0..TASKS).map(|_| AtomicU8::new(0)).collect(),
        repeats: AtomicUsize::new(0),
        done: AtomicUsize::new(0),
        worker_threads: Mutex::new(HashSet::new()),
    });
    let mut spawned = 0;
    update_until(&mut app, "a million tasks", |_| {
        let done = steps.done.load(Ordering::Relaxed);
        while spawned < TASKS && spawned - done < WINDOW {
            let task = stepper(steps.clone(), spawned);
            if spawned % 4 == 0 || spawned % 4 == 2 {
                coro.spawn::<Main>(task).detach();
            } else {
                coro.spawn::<Worker>(task).detach();
            }
            spawned += 1;
        }
        done == TASKS
    });
    assert_eq!(steps.repeats.load(Ordering::Relaxed), 0, "a step ran twice");
    let missing: Vec<_> = (0..TASKS)
        .filter(|&i| steps.bits[i].load(Ordering::Relaxed) != ALL_STEPS)
        .take(10)
        .collect();
    assert!(missing.is_empty(), "tasks with a step missing: {missing:?}");
    wait_until("in_flight back to zero", || coro.in_flight() == 0);
    // Every worker ran tasks; so may have the rescue thread of the
    // (background) workers, when this test's threads kept them off the CPU.
    let threads = steps.worker_threads.lock().unwrap();
    let workers = threads
        .iter()
        .filter(|name| name.starts_with("bevy_coro worker"))
        .count();
    assert_eq!(
        workers,
        coro.worker_count(),
        "not every worker ran tasks: {threads:?}"
    );
    assert!(
        threads
            .iter()
            .all(|name| name.starts_with("bevy_coro worker") || name == "bevy_coro rescue"),
        "worker tasks polled elsewhere: {threads:?}"
    );
}

/// Where a task of the wake storm publishes its waker, and how many wakes it
/// got. Both under one lock, so a wake is only ever sent to a task that is
/// waiting for exactly that wake.
#[derive(Default)]
struct Slot(Mutex<SlotState>);

#[derive(Default)]
struct SlotState {
    woken: u32,
    waker: Option<Waker>,
}

/// Waits until the slot has had `target` wakes.
struct WaitForWake<'a> {
    slot: &'a Slot,
    target: u32,
}

impl Future for WaitForWake<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.slot.0.lock().unwrap();
        if state.woken >= self.target {
            return Poll::Ready(());
        }
        state.waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[test]
fn a_storm_of_foreign_wakes_loses_none() {
    const TASKS: usize = 100_000;
    const WAKES: u32 = 10;
    const WAKERS: usize = 2;
    let mut app = app(2);
    let coro = coro(&app);
    let slots: Arc<Vec<Slot>> = Arc::new((0..TASKS).map(|_| Slot::default()).collect());
    let done = Arc::new(AtomicUsize::new(0));
    for i in 0..TASKS {
        let (slots, done) = (slots.clone(), done.clone());
        let task = async move {
            for target in 1..=WAKES {
                WaitForWake {
                    slot: &slots[i],
                    target,
                }
                .await;
            }
            done.fetch_add(1, Ordering::SeqCst);
        };
        // Both kinds: a wake reaches the main queue or a worker's.
        if i % 2 == 0 {
            coro.spawn::<Main>(task).detach();
        } else {
            coro.spawn::<Worker>(task).detach();
        }
    }
    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    // Plain threads, foreign to the scheduler, sweep the slots from different
    // places and wake whoever waits.
    let wakers: Vec<_> = (0..WAKERS)
        .map(|w| {
            let (slots, stop, sent) = (slots.clone(), stop.clone(), sent.clone());
            thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let mut fired = 0;
                    for k in 0..TASKS {
                        let slot = &slots[(k + w * TASKS / WAKERS) % TASKS];
                        let waker = {
                            let mut state = slot.0.lock().unwrap();
                            let waker = state.waker.take();
                            if waker.is_some() {
                                state.woken += 1;
                            }
                            waker
                        };
                        // Woken outside the lock, as a real event source would.
                        if let Some(waker) = waker {
                            waker.wake();
                            fired += 1;
                        }
                    }
                    sent.fetch_add(fired, Ordering::Relaxed);
                    if fired == 0 {
                        thread::sleep(Duration::from_micros(200));
                    }
                }
            })
        })
        .collect();
    update_until(&mut app, "every task of the wake storm", |_| {
        done.load(Ordering::SeqCst) == TASKS
    });
    stop.store(true, Ordering::Relaxed);
    for waker in wakers {
        waker.join().unwrap();
    }
    // A task gets its next wake only after it used the last one: every wake
    // sent was needed, and a lost one would have hung the storm.
    assert_eq!(sent.load(Ordering::Relaxed), TASKS * WAKES as usize);
    assert!(
        slots
            .iter()
            .all(|slot| slot.0.lock().unwrap().woken == WAKES)
    );
    wait_until("in_flight back to zero", || coro.in_flight() == 0);
}

/// Counts what happened to the futures of one App.
#[derive(Default)]
struct Ledger {
    made: AtomicUsize,
    dropped: AtomicUsize,
    dropped_twice: AtomicUsize,
    polls_after_drop: AtomicUsize,
    polls_after_ready: AtomicUsize,
}

/// Wraps a future with a drop guard and tripwires for polls after its drop
/// or after it returned `Ready`.
struct Tracked<F> {
    ledger: Arc<Ledger>,
    /// 0 live, 1 ready, 2 dropped.
    state: AtomicU8,
    future: Pin<Box<F>>,
}

fn tracked<F: Future>(ledger: &Arc<Ledger>, future: F) -> Tracked<F> {
    ledger.made.fetch_add(1, Ordering::SeqCst);
    Tracked {
        ledger: ledger.clone(),
        state: AtomicU8::new(0),
        future: Box::pin(future),
    }
}

impl<F: Future> Future for Tracked<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        match self.state.load(Ordering::SeqCst) {
            0 => {}
            1 => {
                self.ledger.polls_after_ready.fetch_add(1, Ordering::SeqCst);
                return Poll::Pending;
            }
            _ => {
                self.ledger.polls_after_drop.fetch_add(1, Ordering::SeqCst);
                return Poll::Pending;
            }
        }
        let poll = self.future.as_mut().poll(cx);
        if poll.is_ready() {
            self.state.store(1, Ordering::SeqCst);
        }
        poll
    }
}

impl<F> Drop for Tracked<F> {
    fn drop(&mut self) {
        if self.state.swap(2, Ordering::SeqCst) == 2 {
            self.ledger.dropped_twice.fetch_add(1, Ordering::SeqCst);
        }
        self.ledger.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

/// Spawns 1,000 tasks in every state the scheduler has: parked, hopping,
/// yielding, sleeping, finishing, and spawning more tasks while shutdown runs.
fn spawn_thousand(coro: &Coro, ledger: &Arc<Ledger>) {
    for i in 0..1_000u64 {
        match i % 8 {
            0 => coro
                .spawn::<Main>(tracked(ledger, std::future::pending::<()>()))
                .detach(),
            1 => coro
                .spawn::<Worker>(tracked(ledger, std::future::pending::<()>()))
                .detach(),
            2 => coro
                .spawn::<Main>(tracked(ledger, async {
                    loop {
                        async { yield_now().await }.on::<Worker>().await;
                    }
                }))
                .detach(),
            3 => coro
                .spawn::<Worker>(tracked(ledger, async {
                    loop {
                        async {}.on::<Main>().await;
                        yield_now().await;
                    }
                }))
                .detach(),
            // Some of these wake up before the App is dropped, some not.
            4 => coro
                .spawn::<Main>(tracked(ledger, async move {
                    sleep(Duration::from_micros(i * 13 % 2_000)).await;
                }))
                .detach(),
            5 => coro
                .spawn::<Worker>(tracked(ledger, async move {
                    sleep(Duration::from_micros(i * 7 % 2_000)).await;
                    async {}.on::<Main>().await;
                    sleep(Duration::from_secs(3600)).await;
                }))
                .detach(),
            6 => coro
                .spawn::<Worker>(tracked(ledger, async {
                    for _ in 0..3 {
                        yield_now().await;
                    }
                }))
                .detach(),
            _ => {
                // A spawner: its children race the shutdown's close.
                let (spawner, children) = (coro.clone(), ledger.clone());
                coro.spawn::<Worker>(tracked(ledger, async move {
                    for child in 0..16 {
                        let future = tracked(&children, async { yield_now().await });
                        if child % 2 == 0 {
                            spawner.spawn::<Main>(future).detach();
                        } else {
                            spawner.spawn::<Worker>(future).detach();
                        }
                        yield_now().await;
                    }
                    std::future::pending::<()>().await;
                }))
                .detach();
            }
        }
    }
}

#[test]
fn a_thousand_apps_dropped_mid_flight_drop_each_future_exactly_once() {
    const APPS: usize = 1_000;
    let watchdog = Watchdog::start("apps dropped mid-flight", Duration::from_secs(60));
    for round in 0..APPS {
        let mut app = app(2);
        let coro = coro(&app);
        let ledger = Arc::new(Ledger::default());
        {
            let (coro, ledger) = (coro.clone(), ledger.clone());
            watchdog.lap(format!("app {round}"), move || {
                format!(
                    "{}, futures made {}, dropped {}",
                    describe(&coro),
                    ledger.made.load(Ordering::SeqCst),
                    ledger.dropped.load(Ordering::SeqCst)
                )
            });
        }
        spawn_thousand(&coro, &ledger);
        // Drop after 0 to 3 frames, so tasks are caught in every state.
        for _ in 0..round % 4 {
            app.update();
        }
        drop(app);
        let made = ledger.made.load(Ordering::SeqCst);
        assert!(made >= 1_000);
        assert_eq!(
            ledger.dropped.load(Ordering::SeqCst),
            made,
            "app {round}: futures dropped"
        );
        assert_eq!(
            ledger.dropped_twice.load(Ordering::SeqCst),
            0,
            "app {round}"
        );
        assert_eq!(
            ledger.polls_after_drop.load(Ordering::SeqCst),
            0,
            "app {round}"
        );
        assert_eq!(
            ledger.polls_after_ready.load(Ordering::SeqCst),
            0,
            "app {round}"
        );
        assert_eq!(coro.in_flight(), 0, "app {round}");
    }
}
