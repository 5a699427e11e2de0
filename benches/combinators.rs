//! Race and join of 2 ready-soon branches (each yields once, then gives a
//! number), 100 in a row inside one task on 2 worker threads; the figure is
//! per race or join.
//!
//! - `coro/race`, `coro/join`: bevy_coro's `race` and `join`: each branch a
//!   child task, the loser cancelled and dropped before `race` returns.
//! - `*/or`, `*/zip`: futures-lite's `or`/`zip`, which poll both branches
//!   inside the one task (the class of tokio's `select!`/`join!`, which need
//!   tokio's `macros` feature, not enabled here): cheaper, but a hop in one
//!   branch moves the other (see `.on::<A>()`'s docs). On bevy_coro too, for
//!   the price of the child tasks.
//! - `tokio/spawned`: tokio with the branches as tasks of their own, as
//!   `race`/`join` do: `tokio::spawn` twice, the first to end wins, the loser
//!   aborted and awaited.

mod common;

use common::Peer;

use std::future::Future;
use std::pin::Pin;

use bevy_coro::prelude::*;
use bevy_coro::runtime::block_on;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_lite::future::{or, zip};

const THREADS: usize = 2;
/// Races (or joins) per iteration, in a row in one task.
const ROUNDS: u64 = 100;

type Boxed = Pin<Box<dyn Future<Output = u64> + Send>>;

/// The peers (`common::Peer`), each running one `Send` future to its end.
impl Peer {
    /// Runs `future` as a task on the peer's threads; waits for it.
    fn run(&self, future: impl Future<Output = u64> + Send + 'static) -> u64 {
        match self {
            Peer::Coro(runtime) => block_on(runtime.spawn::<Worker>(future)).unwrap(),
            Peer::Tokio(runtime) => runtime.block_on(runtime.spawn(future)).unwrap(),
            Peer::AsyncExecutor(threads) => {
                futures_lite::future::block_on(threads.executor.spawn(future))
            }
            Peer::BevyTasks(pool) => futures_lite::future::block_on(pool.spawn(future)),
        }
    }

    /// A branch: yields once (the peer's own yield), then gives 1.
    fn branch(&self) -> fn() -> Boxed {
        match self {
            Peer::Coro(_) => || {
                Box::pin(async {
                    yield_now().await;
                    1
                })
            },
            Peer::Tokio(_) => || {
                Box::pin(async {
                    tokio::task::yield_now().await;
                    1
                })
            },
            _ => || {
                Box::pin(async {
                    futures_lite::future::yield_now().await;
                    1
                })
            },
        }
    }
}

/// Two branches as tokio tasks: the first to end wins, the other is
/// aborted and awaited (so it is gone when the race returns, as with `race`).
async fn tokio_spawned_race(branch: fn() -> Boxed) -> u64 {
    let (mut a, mut b) = (tokio::spawn(branch()), tokio::spawn(branch()));
    let (won, value) = or(async { (0, (&mut a).await) }, async { (1, (&mut b).await) }).await;
    let loser = if won == 0 { b } else { a };
    loser.abort();
    let _ = loser.await;
    value.unwrap()
}

fn race_group(c: &mut Criterion) {
    let mut group = c.benchmark_group("race");
    group.throughput(Throughput::Elements(ROUNDS));
    for (name, peer) in Peer::all(THREADS) {
        let branch = peer.branch();
        if let Peer::Coro(_) = peer {
            group.bench_function(format!("{name}/race"), |b| {
                b.iter(|| {
                    peer.run(async move {
                        let mut sum = 0;
                        for _ in 0..ROUNDS {
                            sum += match race((branch(), branch())).await.unwrap() {
                                Winner::First(n) | Winner::Second(n) => n,
                            };
                        }
                        sum
                    })
                })
            });
        }
        if let Peer::Tokio(_) = peer {
            group.bench_function("tokio/spawned", |b| {
                b.iter(|| {
                    peer.run(async move {
                        let mut sum = 0;
                        for _ in 0..ROUNDS {
                            sum += tokio_spawned_race(branch).await;
                        }
                        sum
                    })
                })
            });
        }
        group.bench_function(format!("{name}/or"), |b| {
            b.iter(|| {
                peer.run(async move {
                    let mut sum = 0;
                    for _ in 0..ROUNDS {
                        sum += or(branch(), branch()).await;
                    }
                    sum
                })
            })
        });
    }
    group.finish();
}

fn join_group(c: &mut Criterion) {
    let mut group = c.benchmark_group("join");
    group.throughput(Throughput::Elements(ROUNDS));
    for (name, peer) in Peer::all(THREADS) {
        let branch = peer.branch();
        if let Peer::Coro(_) = peer {
            group.bench_function(format!("{name}/join"), |b| {
                b.iter(|| {
                    peer.run(async move {
                        let mut sum = 0;
                        for _ in 0..ROUNDS {
                            let (x, y) = join((branch(), branch())).await;
                            sum += x.unwrap() + y.unwrap();
                        }
                        sum
                    })
                })
            });
        }
        if let Peer::Tokio(_) = peer {
            group.bench_function("tokio/spawned", |b| {
                b.iter(|| {
                    peer.run(async move {
                        let mut sum = 0;
                        for _ in 0..ROUNDS {
                            let (x, y) = (tokio::spawn(branch()), tokio::spawn(branch()));
                            sum += x.await.unwrap() + y.await.unwrap();
                        }
                        sum
                    })
                })
            });
        }
        group.bench_function(format!("{name}/zip"), |b| {
            b.iter(|| {
                peer.run(async move {
                    let mut sum = 0;
                    for _ in 0..ROUNDS {
                        let (x, y) = zip(branch(), branch()).await;
                        sum += x + y;
                    }
                    sum
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, race_group, join_group);
criterion_main!(benches);
