//! Scheduling, bevy_coro against tokio, async-executor and bevy_tasks, each
//! group running the same work side by side (one run gives the ratios):
//!
//! - `spawn`: spawn and complete N trivial tasks on 2 worker threads; the last
//!   task wakes the (blocked) bench thread. The floor is bare async-task +
//!   concurrent-queue on one thread.
//! - `yield`: 100 tasks yielding 100 times each, and 1,000 tasks yielding
//!   1,000 times each (10 samples), on 2 worker threads; each peer's own
//!   yield, awaited in the task (no allocation per yield).
//! - `hop`: one main -> worker -> main round trip with an idle pool; tokio's
//!   equivalent is a current-thread caller awaiting a task spawned on its
//!   multi-thread runtime. Two floors: std thread + mpsc (two blocking
//!   handoffs), and what a hop must do at least: two queue pushes and one
//!   wake of a sleeping thread (concurrent-queue + event-listener, the main
//!   side spinning as a pump loop does).
//! - `pump`: an empty frame, and 1,000 ready main tasks spawned and run in one
//!   pump; the peer is bevy_tasks' `ThreadExecutor` (what Bevy ticks on the
//!   main thread), spawned onto and ticked until empty. The empty frame is
//!   given one fixed `Instant` (the tick reads no clock either), and again
//!   with `Instant::now()` read for each pump, as a game passes it.
//! - `with_world`: worker tasks reading a resource with `with_world` in an
//!   `App` with `CoroPlugin` (2 workers), `app.update()` until they finish.
//!   No peer: bevy_defer, the closest one, has no release that builds here
//!   (bevy_defer 0.19 targets Bevy 0.20 through the `bevy` crate, which
//!   needs rustc 1.97.1; this project builds with 1.95).

mod common;

use common::{Finish, Peer};

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use event_listener::Listener;

use bevy_coro::prelude::*;
use bevy_coro::runtime::{Runtime, RuntimeConfig};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const THREADS: usize = 2;

/// The peers (`common::Peer`), each able to spawn a detached `Send` task.
impl Peer {
    fn spawn(&self, future: impl Future<Output = ()> + Send + 'static) {
        match self {
            Peer::Coro(runtime) => runtime.spawn::<Worker>(future).detach(),
            Peer::Tokio(runtime) => drop(runtime.spawn(future)),
            Peer::AsyncExecutor(pool) => pool.executor.spawn(future).detach(),
            Peer::BevyTasks(pool) => pool.spawn(future).detach(),
        }
    }
}

/// A task that yields `rounds` times with `yield_now`, then counts itself
/// done. Generic over the yield, so each peer's own yield future lies in
/// the task's state, as in a game's task (a `Box` per yield, as the group
/// had before, cost every peer an allocation and a free per yield).
async fn yield_loop<Y: Future<Output = ()>>(rounds: usize, finish: Finish, yield_now: fn() -> Y) {
    for _ in 0..rounds {
        yield_now().await;
    }
    finish.one();
}

/// Spawns `yield_loop` with the peer's own yield, as its users would write it.
fn spawn_yielder(peer: &Peer, rounds: usize, finish: Finish) {
    match peer {
        Peer::Coro(_) => peer.spawn(yield_loop(rounds, finish, yield_now)),
        Peer::Tokio(_) => peer.spawn(yield_loop(rounds, finish, tokio::task::yield_now)),
        _ => peer.spawn(yield_loop(rounds, finish, futures_lite::future::yield_now)),
    }
}

fn spawn(c: &mut Criterion) {
    let peers = Peer::all(THREADS);
    let mut group = c.benchmark_group("spawn");
    for n in [1_000usize, 100_000] {
        group.throughput(Throughput::Elements(n as u64));
        for (name, peer) in &peers {
            let (finish, wait) = Finish::new(n);
            group.bench_with_input(BenchmarkId::new(*name, n), &n, |b, &n| {
                b.iter(|| {
                    for _ in 0..n {
                        let finish = finish.clone();
                        peer.spawn(async move { finish.one() });
                    }
                    wait.recv().unwrap();
                })
            });
        }
        // The floor: bare async-task + concurrent-queue, one thread.
        let queue = Arc::new(concurrent_queue::ConcurrentQueue::unbounded());
        group.bench_with_input(
            BenchmarkId::new("floor (async-task, 1 thread)", n),
            &n,
            |b, &n| {
                let done = Arc::new(AtomicUsize::new(0));
                b.iter(|| {
                    for _ in 0..n {
                        let (queue, done) = (queue.clone(), done.clone());
                        let (runnable, task) = async_task::spawn(
                            async move {
                                done.fetch_add(1, Ordering::Relaxed);
                            },
                            move |runnable| {
                                let _ = queue.push(runnable);
                            },
                        );
                        task.detach();
                        runnable.schedule();
                    }
                    while let Ok(runnable) = queue.pop() {
                        runnable.run();
                    }
                })
            },
        );
    }
    group.finish();
}

fn yields(c: &mut Criterion) {
    let peers = Peer::all(THREADS);
    let mut group = c.benchmark_group("yield");
    for (tasks, rounds) in [(100usize, 100usize), (1_000, 1_000)] {
        group.throughput(Throughput::Elements((tasks * rounds) as u64));
        if tasks * rounds >= 1_000_000 {
            // ~50 ms an iteration: fewer samples keep the group short.
            group.sample_size(10);
        }
        for (name, peer) in &peers {
            let (finish, wait) = Finish::new(tasks);
            group.bench_function(BenchmarkId::new(*name, format!("{tasks}x{rounds}")), |b| {
                b.iter(|| {
                    for _ in 0..tasks {
                        spawn_yielder(peer, rounds, finish.clone());
                    }
                    wait.recv().unwrap();
                })
            });
        }
    }
    group.finish();
}

fn hop(c: &mut Criterion) {
    let mut group = c.benchmark_group("hop: main -> worker -> main");
    let runtime = Runtime::new(RuntimeConfig {
        workers: THREADS,
        ..Default::default()
    })
    .unwrap();
    group.bench_function("bevy_coro", |b| b.iter(|| common::hop_once(&runtime)));
    let pool = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(THREADS)
        .build()
        .unwrap();
    let caller = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    group.bench_function("tokio (spawn + await JoinHandle)", |b| {
        b.iter(|| caller.block_on(async { pool.spawn(async { 1 }).await.unwrap() }))
    });
    // The floor: two queue pushes and one wake, with std threads.
    let (to_worker, at_worker) = std::sync::mpsc::channel::<u32>();
    let (to_main, at_main) = std::sync::mpsc::channel::<u32>();
    let worker = std::thread::spawn(move || {
        while let Ok(value) = at_worker.recv() {
            if to_main.send(value).is_err() {
                break;
            }
        }
    });
    group.bench_function("floor (std thread + mpsc)", |b| {
        b.iter(|| {
            to_worker.send(1).unwrap();
            at_main.recv().unwrap()
        })
    });
    drop(to_worker);
    let _ = worker.join();
    // The floor of a hop: two queue pushes and one wake. The main side
    // spins on its queue, as the frame loop pumps; the worker sleeps on an
    // event-listener `Event` between trips, as an idle pool does.
    let queues = Arc::new(FloorQueues {
        to_worker: concurrent_queue::ConcurrentQueue::unbounded(),
        to_main: concurrent_queue::ConcurrentQueue::unbounded(),
        event: event_listener::Event::new(),
        stop: std::sync::atomic::AtomicBool::new(false),
    });
    let worker = {
        let queues = queues.clone();
        std::thread::spawn(move || {
            while !queues.stop.load(Ordering::Acquire) {
                if let Ok(value) = queues.to_worker.pop() {
                    let _ = queues.to_main.push(value);
                    continue;
                }
                event_listener::listener!(queues.event => listener);
                if queues.to_worker.is_empty() && !queues.stop.load(Ordering::Acquire) {
                    listener.wait();
                }
            }
        })
    };
    group.bench_function(
        "floor (2 queue pushes + 1 wake: concurrent-queue + event-listener)",
        |b| {
            b.iter(|| {
                let _ = queues.to_worker.push(1u32);
                queues.event.notify(1);
                loop {
                    if let Ok(value) = queues.to_main.pop() {
                        break value;
                    }
                    std::hint::spin_loop();
                }
            })
        },
    );
    queues.stop.store(true, Ordering::Release);
    queues.event.notify(usize::MAX);
    let _ = worker.join();
    group.finish();
}

/// The hop floor's two queues and the worker's wake-up.
struct FloorQueues {
    to_worker: concurrent_queue::ConcurrentQueue<u32>,
    to_main: concurrent_queue::ConcurrentQueue<u32>,
    event: event_listener::Event,
    stop: std::sync::atomic::AtomicBool,
}

fn pump(c: &mut Criterion) {
    let mut group = c.benchmark_group("pump");
    let runtime = Runtime::new(RuntimeConfig {
        workers: 1,
        ..Default::default()
    })
    .unwrap();
    // The tick takes no clock: the pump is given one fixed instant, so both
    // figures are the scheduler's own; the second one adds the clock read a
    // game makes for each pump.
    let now = Instant::now();
    group.bench_function("bevy_coro: empty frame", |b| {
        b.iter(|| runtime.pump(now, None))
    });
    group.bench_function("bevy_coro: empty frame + Instant::now()", |b| {
        b.iter(|| runtime.pump(Instant::now(), None))
    });
    let executor = bevy_tasks::ThreadExecutor::new();
    let ticker = executor.ticker().expect("made on this thread");
    group.bench_function("bevy_tasks ThreadExecutor: empty tick", |b| {
        b.iter(|| ticker.try_tick())
    });
    group.throughput(Throughput::Elements(1_000));
    group.bench_function("bevy_coro: 1000 ready main tasks", |b| {
        b.iter(|| {
            for _ in 0..1_000 {
                runtime.spawn::<Main>(async {}).detach();
            }
            runtime.pump(Instant::now(), None)
        })
    });
    group.bench_function("bevy_tasks ThreadExecutor: 1000 ready tasks", |b| {
        b.iter(|| {
            for _ in 0..1_000 {
                executor.spawn(async {}).detach();
            }
            while ticker.try_tick() {}
        })
    });
    group.finish();
}

#[derive(bevy_ecs::resource::Resource)]
struct Score(u64);

fn with_world_group(c: &mut Criterion) {
    use bevy_coro::{Coro, CoroPlugin, with_world};
    let mut group = c.benchmark_group("with_world");
    // The plugin's defaults (background workers), and normal priority.
    for (label, worker_priority) in [
        (
            "bevy_coro (worker task)",
            CoroPlugin::default().worker_priority,
        ),
        (
            "bevy_coro (worker task, normal priority)",
            bevy_coro::runtime::WorkerPriority::Normal,
        ),
    ] {
        let mut app = bevy_app::App::new();
        app.add_plugins(CoroPlugin {
            workers: THREADS,
            worker_priority,
            ..Default::default()
        });
        app.insert_resource(Score(7));
        let coro = app.world().resource::<Coro>().clone();
        for n in [1usize, 1_000] {
            group.throughput(Throughput::Elements(n as u64));
            group.bench_with_input(BenchmarkId::new(label, n), &n, |b, &n| {
                b.iter(|| {
                    let mut tasks: Vec<_> = (0..n)
                        .map(|_| {
                            coro.spawn::<Worker>(async {
                                with_world(|world| world.resource::<Score>().0).await
                            })
                        })
                        .collect();
                    while !tasks.is_empty() {
                        app.update();
                        tasks.retain_mut(|task| task.try_take().is_none());
                    }
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, spawn, yields, hop, pump, with_world_group);
criterion_main!(benches);
