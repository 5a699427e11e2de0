//! Timer insert + fire, bevy_coro against tokio's time driver, in one group.
//!
//! Both sides create N sleeps with distinct deadlines (1..=N ms) in one task,
//! poll them all once (insert), move their clock past the last deadline and
//! poll again until all are done (fire). Both clocks are driven by hand:
//! bevy_coro's `ManualClock`, tokio's paused clock. Throughput is in timers.
//! The sleeps lie in one allocation ([`AllOf`]), as in a task's own state.

mod common;

use common::all_of::AllOf;

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use bevy_coro::prelude::*;
use bevy_coro::runtime::{Clock, ManualClock, Runtime, RuntimeConfig};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

fn timers(c: &mut Criterion) {
    let mut group = c.benchmark_group("timers: insert + fire");
    for n in [1_000u64, 10_000] {
        group.throughput(Throughput::Elements(n));

        let clock = ManualClock::new();
        let runtime = Runtime::new(RuntimeConfig {
            workers: 1,
            clock: Clock::Manual(clock.clone()),
            ..Default::default()
        })
        .unwrap();
        group.bench_with_input(BenchmarkId::new("bevy_coro", n), &n, |b, &n| {
            b.iter(|| {
                let mut task = runtime.spawn::<Main>(async move {
                    AllOf::new((1..=n).map(|i| sleep(Duration::from_millis(i)))).await
                });
                runtime.pump(Instant::now(), None); // insert
                clock.advance(Duration::from_millis(n + 1));
                runtime.pump(Instant::now(), None); // fire, and the task completes
                black_box(task.try_take().expect("all timers fired"))
            })
        });

        let tokio = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        group.bench_with_input(BenchmarkId::new("tokio", n), &n, |b, &n| {
            b.iter(|| {
                tokio.block_on(async move {
                    let mut all =
                        AllOf::new((1..=n).map(|i| tokio::time::sleep(Duration::from_millis(i))));
                    // Insert: poll every sleep once.
                    let inserted = std::future::poll_fn(|cx| {
                        Poll::Ready(Pin::new(&mut all).poll(cx).is_ready())
                    })
                    .await;
                    assert!(!inserted);
                    tokio::time::advance(Duration::from_millis(n + 1)).await;
                    all.await
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, timers);
criterion_main!(benches);
