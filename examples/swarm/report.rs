//! What the swarm measures, and the report it prints at the end.

use std::time::{Duration, Instant};

use bevy_coro::CoroStats;
use bevy_ecs::prelude::*;

/// Counters and per-frame timings, filled by the swarm's systems.
#[derive(Resource)]
pub struct Stats {
    pub started: Instant,
    pub frame_start: Option<Instant>,
    pub pump_start: Option<Instant>,
    pub frame_times: Vec<Duration>,
    pub pump_times: Vec<Duration>,
    /// Plans that ran to the end (a path applied, or an unreachable goal found).
    pub plans_done: u64,
    pub unreachable: u64,
    /// Plans dropped because the goal changed first (their tasks were cancelled).
    pub plans_cancelled: u64,
    /// Task polls on the main thread, from `CoroStats`, over the run.
    pub main_polls: u64,
    pub max_worker_queue: usize,
    /// Agents despawned mid-run (their tasks cancelled with them).
    pub despawned: u64,
    pub finished: Option<Instant>,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            started: Instant::now(),
            frame_start: None,
            pump_start: None,
            frame_times: Vec::new(),
            pump_times: Vec::new(),
            plans_done: 0,
            unreachable: 0,
            plans_cancelled: 0,
            main_polls: 0,
            max_worker_queue: 0,
            despawned: 0,
            finished: None,
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1e3)
}

/// Prints the report a game developer reads at a glance.
pub fn print(stats: &Stats, coro: &CoroStats, agents_without_path: usize) {
    let wall = stats.finished.unwrap_or_else(Instant::now) - stats.started;
    let mut frames = stats.frame_times.clone();
    frames.sort();
    let mut pumps = stats.pump_times.clone();
    pumps.sort();
    let pump_total: Duration = pumps.iter().sum();
    println!("frames              {}", frames.len());
    println!(
        "frame time          p50 {}   p99 {}   max {}   (update work, without the wait for the next frame)",
        ms(percentile(&frames, 0.5)),
        ms(percentile(&frames, 0.99)),
        ms(frames.last().copied().unwrap_or_default()),
    );
    println!(
        "pump (main thread)  p50 {}   p99 {}   total {} over {:.2} s",
        ms(percentile(&pumps, 0.5)),
        ms(percentile(&pumps, 0.99)),
        ms(pump_total),
        wall.as_secs_f64(),
    );
    println!(
        "tasks completed     {} plans ({} with an unreachable goal), {} cancelled by a goal change",
        stats.plans_done, stats.unreachable, stats.plans_cancelled
    );
    println!(
        "agents despawned    {} mid-run, their plans cancelled with them",
        stats.despawned
    );
    println!(
        "tasks/s             {:.0}",
        stats.plans_done as f64 / wall.as_secs_f64().max(1e-9)
    );
    println!(
        "scheduler           {} main-thread polls, worker queue peak {}, {} tasks in flight at the end, {} panics",
        stats.main_polls, stats.max_worker_queue, coro.in_flight, coro.panics
    );
    println!("agents never routed {agents_without_path}");
}
