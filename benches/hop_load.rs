//! A hop under load: 1,000 main tasks each go to a worker and back 100
//! times (`async {}.on::<Worker>().await`: one hop there, one hop back), so
//! 200,000 hops an iteration, while the main thread loops the pump with no
//! sleep between pumps, as a game running flat out does, and the worker
//! always has a task to run (it does not park but at the iteration's start
//! and end). The figure is per hop.
//!
//! - `bevy_coro`: a bare `Runtime` with `RuntimeConfig::default()` (one
//!   worker on a 2-core machine: available cores − 1), pumped by
//!   `runtime.pump(Instant::now(), None)` in a loop; each task's end bumps a
//!   counter the loop checks. The 1,000 spawns and task ends are in the
//!   time (about 1% of it). The frame hold (`RuntimeConfig::frame_hold`)
//!   is on by default but only acts between `Runtime::begin_frame` and
//!   `end_frame`, which a bare pump loop does not call: it holds nothing
//!   here.
//! - `floor`: what the hops must do at least: a thread pair passes 1,000
//!   tokens back and forth 100 times through two `ConcurrentQueue`s (one
//!   each way), both threads spinning, neither parking: 200,000 cross-thread
//!   push/pop pairs. A floor thread that finds its queue empty 64 times in
//!   a row yields its core (`thread::yield_now`): on a loaded machine, a
//!   thread that only spins burns whole time slices while its partner is
//!   off the CPU, and the floor came out ten times slower than the hops.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Instant;

use bevy_coro::prelude::*;
use bevy_coro::runtime::{Runtime, RuntimeConfig};
use concurrent_queue::ConcurrentQueue;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

/// Tasks (or tokens) in flight at once.
const TASKS: usize = 1_000;
/// Round trips main → worker → main each task makes.
const ROUNDS: usize = 100;
/// Hops per iteration: two per round trip.
const HOPS: usize = TASKS * ROUNDS * 2;

/// Spawns the hopping tasks and pumps until they are all done.
fn hop_under_load(runtime: &Runtime, done: &Arc<AtomicUsize>) {
    done.store(0, Ordering::Relaxed);
    for _ in 0..TASKS {
        let done = done.clone();
        runtime
            .spawn::<Main>(async move {
                for _ in 0..ROUNDS {
                    async {}.on::<Worker>().await;
                }
                done.fetch_add(1, Ordering::Release);
            })
            .detach();
    }
    while done.load(Ordering::Acquire) < TASKS {
        runtime.pump(Instant::now(), None);
    }
}

/// The floor's two queues, and the worker thread's stop flag.
struct Queues {
    to_worker: ConcurrentQueue<u32>,
    to_main: ConcurrentQueue<u32>,
    stop: AtomicBool,
}

/// The floor's main side: sends `TASKS` tokens on `ROUNDS` round trips
/// each, spinning on its queue.
fn floor_round(queues: &Queues) {
    for _ in 0..TASKS {
        let _ = queues.to_worker.push(0);
    }
    let mut finished = 0;
    let mut idle = Idle::default();
    while finished < TASKS {
        match queues.to_main.pop() {
            Ok(trips) if trips + 1 == ROUNDS as u32 => finished += 1,
            Ok(trips) => {
                let _ = queues.to_worker.push(trips + 1);
            }
            Err(_) => idle.wait(),
        }
    }
}

/// A floor thread's wait for its queue: it spins, and after a run of empty
/// looks gives its core to another runnable thread (no parking). On a busy
/// machine a thread that only spins may burn its whole time slice while
/// the thread it waits for is off the CPU (the figure then moves tenfold).
#[derive(Default)]
struct Idle(u32);

impl Idle {
    fn wait(&mut self) {
        self.0 += 1;
        if self.0.is_multiple_of(64) {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
}

fn hops(c: &mut Criterion) {
    let mut group = c.benchmark_group("hop under load");
    group.throughput(Throughput::Elements(HOPS as u64));
    group.sample_size(20);
    let label = format!("{TASKS} tasks x {ROUNDS} round trips");
    {
        let runtime = Runtime::new(RuntimeConfig::default()).unwrap();
        let done = Arc::new(AtomicUsize::new(0));
        group.bench_function(BenchmarkId::new("bevy_coro", &label), |b| {
            b.iter(|| hop_under_load(&runtime, &done))
        });
    }
    // The floor's worker spins only while its bench runs, so it takes no
    // core from the others.
    group.bench_function(
        BenchmarkId::new("floor (concurrent-queue, 2 spinning threads)", &label),
        |b| {
            let queues = Arc::new(Queues {
                to_worker: ConcurrentQueue::unbounded(),
                to_main: ConcurrentQueue::unbounded(),
                stop: AtomicBool::new(false),
            });
            let worker = {
                let queues = queues.clone();
                std::thread::spawn(move || {
                    let mut idle = Idle::default();
                    while !queues.stop.load(Ordering::Relaxed) {
                        match queues.to_worker.pop() {
                            Ok(token) => {
                                let _ = queues.to_main.push(token);
                            }
                            Err(_) => idle.wait(),
                        }
                    }
                })
            };
            b.iter(|| floor_round(&queues));
            queues.stop.store(true, Ordering::Relaxed);
            worker.join().unwrap();
        },
    );
    group.finish();
}

criterion_group!(benches, hops);
criterion_main!(benches);
