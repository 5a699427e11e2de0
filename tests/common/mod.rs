//! Helpers shared by the behaviour tests.
#![allow(dead_code)]

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bevy_app::App;
use bevy_coro::prelude::*;

mod threads;
// Not every test binary uses them (as `dead_code` above, for the rest).
#[allow(unused_imports)]
pub use threads::*;

/// A watchdog bound: far above what any of these tests needs, only there so a
/// lost wakeup fails the test instead of hanging CI.
pub const WATCHDOG: Duration = Duration::from_secs(120);

/// An App with the plugin and `workers` worker threads.
pub fn app(workers: usize) -> App {
    let mut app = App::new();
    app.add_plugins(CoroPlugin {
        workers,
        ..Default::default()
    });
    app
}

/// Runs a behaviour test in both ways worker tasks can run: as
/// `NAME::threaded`, with the given number of worker threads, and as
/// `NAME::single_threaded`, with none (`workers: 0`: the pump runs them on
/// the main thread). The body gets the count as `workers`; build the App or
/// runtime with it (`app(workers)`, `manual_runtime_with(workers)`).
///
/// ```ignore
/// in_each_mode! {
///     fn a_hop_works(workers = 2) {
///         let mut app = app(workers);
///         ..
///     }
/// }
/// ```
#[macro_export]
macro_rules! in_each_mode {
    ($($(#[$attr:meta])* fn $name:ident($workers:ident = $threads:literal) $body:block)*) => {$(
        $(#[$attr])*
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[test]
            fn threaded() {
                run($threads);
            }

            #[test]
            fn single_threaded() {
                run(0);
            }

            fn run($workers: usize) $body
        }
    )*};
}

/// The App's `Coro` handle.
pub fn coro(app: &App) -> Coro {
    app.world().resource::<Coro>().clone()
}

/// Runs frames until `done` holds; returns the number of frames. Panics (with
/// `what`) if the watchdog bound passes first.
pub fn update_until(app: &mut App, what: &str, mut done: impl FnMut(&mut App) -> bool) -> usize {
    let start = Instant::now();
    let mut frames: usize = 0;
    while !done(app) {
        assert!(
            start.elapsed() < WATCHDOG,
            "watchdog: {what} not done after {frames} frames"
        );
        app.update();
        frames += 1;
        if frames.is_multiple_of(64) {
            std::thread::yield_now();
        }
    }
    frames
}

/// Waits (without pumping) until `done` holds, or panics at the watchdog bound.
pub fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < WATCHDOG, "watchdog: {what}");
        std::thread::sleep(Duration::from_micros(100));
    }
}

/// Runs frames until `task` finishes and returns its result.
pub fn run_task<T>(app: &mut App, mut task: Task<T>) -> Result<T, TaskError> {
    let mut result = None;
    update_until(app, "task", |_| {
        result = task.try_take();
        result.is_some()
    });
    result.unwrap()
}

/// Counts drops of the values it hands out.
#[derive(Clone, Default)]
pub struct DropCounter(Arc<AtomicUsize>);

impl DropCounter {
    pub fn token(&self) -> DropToken {
        DropToken(self.0.clone())
    }
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Runs five more frames and checks that nothing more happened: `drops`
/// stays at `dropped` and no task is in flight (a stopped actor stays
/// stopped, its state dropped once).
pub fn assert_settled(app: &mut App, drops: &DropCounter, dropped: usize) {
    for _ in 0..5 {
        app.update();
    }
    assert_eq!(drops.count(), dropped);
    assert_eq!(coro(app).in_flight(), 0);
}

/// Bumps its counter when dropped.
pub struct DropToken(Arc<AtomicUsize>);

impl Drop for DropToken {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

/// A future that never completes and holds `token` until it is dropped.
pub async fn parked_forever(token: DropToken) {
    std::future::pending::<()>().await;
    drop(token);
}

/// Polls `future` once outside any task, returning the panic message if it panicked.
pub fn poll_once_outside_task<F: Future>(future: F) -> Option<String> {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = future.as_mut().poll(&mut cx);
    }))
    .err()
    .map(|payload| panic_text(&*payload))
}

/// The message of a panic payload.
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// A thread that ends the test process, with a report, when one lap of a long
/// test takes longer than its bound: a hang in a loop of a thousand runs must
/// fail CI with what was known, not stall it. Laps are restarted with
/// [`Watchdog::lap`]; dropping the watchdog stops it.
pub struct Watchdog {
    state: Arc<WatchdogState>,
    thread: Option<std::thread::JoinHandle<()>>,
}

/// What the report closure of a lap looks like.
pub type Probe = Box<dyn Fn() -> String + Send>;

struct WatchdogState {
    stop: std::sync::atomic::AtomicBool,
    lap: std::sync::Mutex<(Instant, String, Option<Probe>)>,
}

impl Watchdog {
    /// Starts watching: each lap must end within `bound`.
    pub fn start(what: &'static str, bound: Duration) -> Self {
        let state = Arc::new(WatchdogState {
            stop: std::sync::atomic::AtomicBool::new(false),
            lap: std::sync::Mutex::new((Instant::now(), "start".to_owned(), None)),
        });
        let watched = state.clone();
        let thread = std::thread::spawn(move || {
            while !watched.stop.load(Ordering::SeqCst) {
                std::thread::park_timeout(Duration::from_millis(50));
                let lap = watched.lap.lock().unwrap_or_else(|e| e.into_inner());
                if lap.0.elapsed() > bound && !watched.stop.load(Ordering::SeqCst) {
                    let known = lap.2.as_ref().map(|probe| probe()).unwrap_or_default();
                    eprintln!(
                        "watchdog: {what}: {} still running after {bound:?}; {known}",
                        lap.1
                    );
                    // Another thread is stuck: the test cannot fail by
                    // unwinding, so the process ends here, with the report.
                    std::process::abort();
                }
            }
        });
        Watchdog {
            state,
            thread: Some(thread),
        }
    }

    /// Starts a new lap named `label`; `probe` tells what is known if it hangs.
    pub fn lap(&self, label: String, probe: impl Fn() -> String + Send + 'static) {
        *self.state.lap.lock().unwrap_or_else(|e| e.into_inner()) =
            (Instant::now(), label, Some(Box::new(probe)));
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
    }
}

/// What a runtime knows about itself, for a watchdog's report.
pub fn describe(coro: &bevy_coro::runtime::Handle) -> String {
    format!("in_flight {}, {:?}", coro.in_flight(), coro.stats())
}

/// A runtime on `workers` workers (0: single-threaded), the rest of
/// `RuntimeConfig` at its defaults.
pub fn runtime(workers: usize) -> bevy_coro::runtime::Runtime {
    use bevy_coro::runtime::{Runtime, RuntimeConfig};
    Runtime::new(RuntimeConfig {
        workers,
        ..Default::default()
    })
    .unwrap()
}

/// A runtime on 2 workers with a manual clock, and that clock.
pub fn manual_runtime() -> (bevy_coro::runtime::Runtime, bevy_coro::runtime::ManualClock) {
    manual_runtime_with(2)
}

/// A runtime on `workers` workers (0: single-threaded) with a manual clock,
/// and that clock.
pub fn manual_runtime_with(
    workers: usize,
) -> (bevy_coro::runtime::Runtime, bevy_coro::runtime::ManualClock) {
    use bevy_coro::runtime::{Clock, ManualClock, Runtime, RuntimeConfig};
    let clock = ManualClock::new();
    let runtime = Runtime::new(RuntimeConfig {
        workers,
        clock: Clock::Manual(clock.clone()),
        ..Default::default()
    })
    .unwrap();
    (runtime, clock)
}

/// Spins for `time` of wall time (CPU-bound work in a task).
pub fn busy(time: Duration) {
    let start = Instant::now();
    while start.elapsed() < time {
        std::hint::spin_loop();
    }
}

/// A deterministic runtime with `seed`, its clock moving 16 ms a pump.
pub fn deterministic(seed: u64) -> bevy_coro::runtime::Runtime {
    use bevy_coro::runtime::{Mode, Runtime, RuntimeConfig};
    Runtime::new(RuntimeConfig {
        mode: Mode::Deterministic {
            seed,
            frame_step: Duration::from_millis(16),
        },
        ..Default::default()
    })
    .unwrap()
}

/// Counts the polls of the future it wraps: a wait that polls its task
/// every frame shows here.
pub struct CountPolls<F>(pub Arc<AtomicUsize>, pub std::pin::Pin<Box<F>>);

impl<F: Future> Future for CountPolls<F> {
    type Output = F::Output;
    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<F::Output> {
        self.0.fetch_add(1, Ordering::SeqCst);
        self.1.as_mut().poll(cx)
    }
}

/// Spawns `future` on a worker (`worker`) or on the main thread.
pub fn spawn_on<F>(coro: &Coro, worker: bool, future: F) -> Task<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    if worker {
        coro.spawn::<Worker>(future)
    } else {
        coro.spawn::<Main>(future)
    }
}

/// Waits on the game registered after the last frame's check.
pub fn game_waits(app: &App) -> usize {
    app.world().resource::<bevy_coro::CoroStats>().game_waits
}

/// An App with the plugin in deterministic mode for `seed`, panicking on a
/// deadlock.
pub fn deterministic_app(seed: u64) -> App {
    let mut app = App::new();
    app.add_plugins(CoroPlugin {
        mode: bevy_coro::CoroMode::Deterministic {
            seed,
            panic_on_deadlock: true,
        },
        ..Default::default()
    });
    app
}
