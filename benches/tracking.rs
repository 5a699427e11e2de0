//! What the live task list (`RuntimeConfig::track_tasks`) costs: the
//! `scheduling` groups' work (spawn, yield, hop) on 2 workers, with the
//! list off and on, side by side in each group (one run gives the ratio).
//! No peers: the comparison is bevy_coro with itself.
//!
//! - `tracking: spawn`: spawn and complete 1,000 trivial worker tasks.
//! - `tracking: yield`: 100 worker tasks yielding 100 times each.
//! - `tracking: hop`: one main -> worker -> main round trip, idle pool.

mod common;

use common::Finish;

use bevy_coro::prelude::*;
use bevy_coro::runtime::{Runtime, RuntimeConfig};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const THREADS: usize = 2;

/// A runtime on 2 workers, tracking its tasks or not.
fn runtime(track_tasks: bool) -> Runtime {
    Runtime::new(RuntimeConfig {
        workers: THREADS,
        track_tasks,
        ..Default::default()
    })
    .unwrap()
}

/// Both runtimes, named for the report.
fn runtimes() -> [(&'static str, Runtime); 2] {
    [("off", runtime(false)), ("on", runtime(true))]
}

fn spawn(c: &mut Criterion) {
    let mut group = c.benchmark_group("tracking: spawn");
    let n = 1_000;
    group.throughput(Throughput::Elements(n as u64));
    for (name, runtime) in runtimes() {
        let (finish, wait) = Finish::new(n);
        group.bench_function(BenchmarkId::new(name, n), |b| {
            b.iter(|| {
                for _ in 0..n {
                    let finish = finish.clone();
                    runtime
                        .spawn::<Worker>(async move { finish.one() })
                        .detach();
                }
                wait.recv().unwrap();
            })
        });
    }
    group.finish();
}

fn yields(c: &mut Criterion) {
    let mut group = c.benchmark_group("tracking: yield");
    let (tasks, rounds) = (100usize, 100usize);
    group.throughput(Throughput::Elements((tasks * rounds) as u64));
    for (name, runtime) in runtimes() {
        let (finish, wait) = Finish::new(tasks);
        group.bench_function(BenchmarkId::new(name, format!("{tasks}x{rounds}")), |b| {
            b.iter(|| {
                for _ in 0..tasks {
                    let finish = finish.clone();
                    runtime
                        .spawn::<Worker>(async move {
                            for _ in 0..rounds {
                                yield_now().await;
                            }
                            finish.one();
                        })
                        .detach();
                }
                wait.recv().unwrap();
            })
        });
    }
    group.finish();
}

fn hop(c: &mut Criterion) {
    let mut group = c.benchmark_group("tracking: hop");
    for (name, runtime) in runtimes() {
        group.bench_function(name, |b| b.iter(|| common::hop_once(&runtime)));
    }
    group.finish();
}

criterion_group!(benches, spawn, yields, hop);
criterion_main!(benches);
