//! Scheduling, bevy_coro against tokio, async-executor and bevy_tasks, each
//! group running the same work side by side (one run gives the ratios):
//!
//! - `spawn`: spawn and complete N trivial tasks on 2 worker threads; the last
//!   task wakes the (blocked) bench thread. The floor is bare async-task +
//!   concurrent-queue on one thread.
//! - `yield`: 100 tasks yielding 100 times each, on 2 worker threads.
//! - `hop`: one main -> worker -> main round trip with an idle pool; tokio's
//!   equivalent is a current-thread caller awaiting a task spawned on its
//!   multi-thread runtime.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::Instant;

use bevy_coro::prelude::*;
use bevy_coro::runtime::{Runtime, RuntimeConfig};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const THREADS: usize = 2;

/// Counts finished tasks; the last one of a round wakes the bench thread.
#[derive(Clone)]
struct Finish {
    done: Arc<AtomicUsize>,
    target: usize,
    signal: SyncSender<()>,
}

impl Finish {
    fn new(target: usize) -> (Self, Receiver<()>) {
        let (signal, wait) = sync_channel(1);
        let finish = Finish {
            done: Arc::new(AtomicUsize::new(0)),
            target,
            signal,
        };
        (finish, wait)
    }

    fn one(&self) {
        if self.done.fetch_add(1, Ordering::AcqRel) + 1 == self.target {
            self.done.store(0, Ordering::Release);
            self.signal.send(()).unwrap();
        }
    }
}

/// The peers, each able to spawn a detached `Send` task on 2 threads.
enum Peer {
    Coro(Runtime),
    Tokio(tokio::runtime::Runtime),
    AsyncExecutor(
        Arc<async_executor::Executor<'static>>,
        Vec<std::thread::JoinHandle<()>>,
        async_channel::Sender<()>,
    ),
    BevyTasks(bevy_tasks::TaskPool),
}

impl Peer {
    fn all() -> Vec<(&'static str, Peer)> {
        let coro = Runtime::new(RuntimeConfig {
            workers: THREADS,
            ..Default::default()
        })
        .unwrap();
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(THREADS)
            .build()
            .unwrap();
        let executor = Arc::new(async_executor::Executor::new());
        let (stop, stopped) = async_channel::bounded::<()>(1);
        let threads = (0..THREADS)
            .map(|_| {
                let (executor, stopped) = (executor.clone(), stopped.clone());
                std::thread::spawn(move || {
                    futures_lite::future::block_on(executor.run(stopped.recv())).unwrap_or(())
                })
            })
            .collect();
        let pool = bevy_tasks::TaskPoolBuilder::new()
            .num_threads(THREADS)
            .build();
        vec![
            ("bevy_coro", Peer::Coro(coro)),
            ("tokio", Peer::Tokio(tokio)),
            (
                "async-executor",
                Peer::AsyncExecutor(executor, threads, stop),
            ),
            ("bevy_tasks", Peer::BevyTasks(pool)),
        ]
    }

    fn spawn(&self, future: impl Future<Output = ()> + Send + 'static) {
        match self {
            Peer::Coro(runtime) => runtime.spawn::<Worker>(future).detach(),
            Peer::Tokio(runtime) => drop(runtime.spawn(future)),
            Peer::AsyncExecutor(executor, ..) => executor.spawn(future).detach(),
            Peer::BevyTasks(pool) => pool.spawn(future).detach(),
        }
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        if let Peer::AsyncExecutor(_, threads, stop) = self {
            stop.close();
            for thread in threads.drain(..) {
                let _ = thread.join();
            }
        }
    }
}

/// Each peer's own yield, as its users would write it.
fn yielder(peer: &Peer) -> fn() -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
    match peer {
        Peer::Coro(_) => || Box::pin(yield_now()),
        Peer::Tokio(_) => || Box::pin(tokio::task::yield_now()),
        _ => || Box::pin(futures_lite::future::yield_now()),
    }
}

fn spawn(c: &mut Criterion) {
    let peers = Peer::all();
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
    let peers = Peer::all();
    let mut group = c.benchmark_group("yield");
    let (tasks, rounds) = (100usize, 100usize);
    group.throughput(Throughput::Elements((tasks * rounds) as u64));
    for (name, peer) in &peers {
        let (finish, wait) = Finish::new(tasks);
        let yield_now = yielder(peer);
        group.bench_function(BenchmarkId::new(*name, "100x100"), |b| {
            b.iter(|| {
                for _ in 0..tasks {
                    let finish = finish.clone();
                    peer.spawn(async move {
                        for _ in 0..rounds {
                            yield_now().await;
                        }
                        finish.one();
                    });
                }
                wait.recv().unwrap();
            })
        });
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
    group.bench_function("bevy_coro", |b| {
        b.iter(|| {
            let mut task = runtime.spawn::<Main>(async { async { 1 }.on::<Worker>().await });
            loop {
                runtime.pump(Instant::now(), None);
                if let Some(result) = task.try_take() {
                    break result;
                }
            }
        })
    });
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
    group.finish();
}

fn pump(c: &mut Criterion) {
    let mut group = c.benchmark_group("pump");
    let runtime = Runtime::new(RuntimeConfig {
        workers: 1,
        ..Default::default()
    })
    .unwrap();
    group.bench_function("empty frame", |b| {
        b.iter(|| runtime.pump(Instant::now(), None))
    });
    group.throughput(Throughput::Elements(1_000));
    group.bench_function("1000 ready main tasks", |b| {
        b.iter(|| {
            for _ in 0..1_000 {
                runtime.spawn::<Main>(async {}).detach();
            }
            runtime.pump(Instant::now(), None)
        })
    });
    group.finish();
}

criterion_group!(benches, spawn, yields, hop, pump);
criterion_main!(benches);
