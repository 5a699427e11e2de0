//! What the swarm measures, and the reports it prints at the end.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use bevy_ecs::prelude::*;

use crate::game::Plan;
use crate::map::Cell;

/// Counters and per-frame timings, filled by the swarm's systems.
#[derive(Resource)]
pub struct Stats {
    pub started: Instant,
    pub frame_start: Option<Instant>,
    pub task_work_start: Option<Instant>,
    pub frame_times: Vec<Duration>,
    /// Main-thread time per frame in the systems that run tasks or apply
    /// their results (see `game::TaskWork`).
    pub task_work_times: Vec<Duration>,
    /// Plans that ran to the end (a path applied, or an unreachable goal found).
    pub plans_done: u64,
    pub unreachable: u64,
    /// Plans dropped because the goal changed first or the agent left (their
    /// tasks were cancelled).
    pub plans_cancelled: u64,
    /// Every plan applied, in order, for the tests.
    pub applied: Vec<Applied>,
    /// Per plan applied: frames from asking for it to walking it.
    pub waits: Vec<u32>,
    /// bevy_coro only: task polls on the main thread, from `CoroStats`.
    pub main_polls: u64,
    /// bevy_coro only: the longest on-CPU time of a pump
    /// (`CoroStats::pump_cpu_time`).
    pub pump_cpu_max: Duration,
    /// bevy_coro only, with a budget: pumps whose on-CPU time passed the
    /// budget plus their longest poll (what the budget promises not to).
    pub pumps_over_budget_on_cpu: u64,
    pub max_worker_queue: usize,
    /// Agents despawned mid-run (their tasks cancelled with them).
    pub despawned: u64,
    pub finished: Option<Instant>,
    /// The main thread's time on a CPU and waiting for one, over the run
    /// (Linux only).
    pub main_thread: Option<(Duration, Duration)>,
}

/// One applied plan, small enough to keep them all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Applied {
    pub agent: u32,
    pub serial: u64,
    pub from: Cell,
    pub goal: Cell,
    /// FNV-1a over the path's cells (0: no path).
    pub path_hash: u64,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            started: Instant::now(),
            frame_start: None,
            task_work_start: None,
            frame_times: Vec::new(),
            task_work_times: Vec::new(),
            plans_done: 0,
            unreachable: 0,
            plans_cancelled: 0,
            applied: Vec::new(),
            waits: Vec::new(),
            main_polls: 0,
            pump_cpu_max: Duration::ZERO,
            pumps_over_budget_on_cpu: 0,
            max_worker_queue: 0,
            despawned: 0,
            finished: None,
            main_thread: None,
        }
    }
}

impl Stats {
    /// Counts a finished plan, applied on `frame`, and keeps its fingerprint.
    pub fn record(&mut self, plan: &Plan, frame: u32) {
        self.plans_done += 1;
        // The frame counter moves in `Update`, after this: the next frame is 1.
        self.waits.push(frame + 1 - plan.asked);
        self.unreachable += u64::from(plan.cells.is_none());
        let path_hash = plan.cells.as_ref().map_or(0, |cells| {
            cells.iter().fold(0xCBF2_9CE4_8422_2325, |hash, &(x, y)| {
                (hash ^ (u64::from(x) << 16 | u64::from(y))).wrapping_mul(0x0100_0000_01B3)
            })
        });
        self.applied.push(Applied {
            agent: plan.agent,
            serial: plan.serial,
            from: plan.from,
            goal: plan.goal,
            path_hash,
        });
    }
}

/// What one run comes to, for a report, a comparison and a chart.
pub struct Summary {
    /// Per frame, in order.
    pub frame_times: Vec<Duration>,
    pub task_work_times: Vec<Duration>,
    pub wall: Duration,
    pub plans_done: u64,
    pub unreachable: u64,
    pub plans_cancelled: u64,
    pub despawned: u64,
    /// See [`Stats::main_thread`].
    pub main_thread: Option<(Duration, Duration)>,
    /// Frames from asking for a plan to walking it, sorted.
    pub waits: Vec<u32>,
    /// Agents on the map for at least a second of frames that never got a path.
    pub never_routed: usize,
    /// bevy_coro's own counters; `None` for the baseline.
    pub scheduler: Option<String>,
}

impl Summary {
    fn sorted(times: &[Duration]) -> Vec<Duration> {
        let mut sorted = times.to_vec();
        sorted.sort();
        sorted
    }

    /// Frame time at percentile `p` (0.0 to 1.0).
    pub fn frame(&self, p: f64) -> Duration {
        percentile(&Self::sorted(&self.frame_times), p)
    }

    /// The longest frame.
    pub fn frame_max(&self) -> Duration {
        self.frame_times.iter().max().copied().unwrap_or_default()
    }

    /// Frames that took longer than [`STALLED`]: with this game's frame
    /// work at a few tenths of a millisecond, a thread of the frame waited
    /// for a CPU in them.
    pub fn stalled_frames(&self) -> usize {
        self.frame_times.iter().filter(|&&t| t > STALLED).count()
    }

    /// Plans finished per second of the run.
    pub fn paths_per_second(&self) -> f64 {
        self.plans_done as f64 / self.wall.as_secs_f64().max(1e-9)
    }

    /// Main-thread task work, mean per frame.
    pub fn task_work_mean(&self) -> Duration {
        let total: Duration = self.task_work_times.iter().sum();
        total / (self.task_work_times.len().max(1) as u32)
    }

    /// Frames an agent waited for its path, at percentile `p`.
    pub fn wait(&self, p: f64) -> u32 {
        if self.waits.is_empty() {
            return 0;
        }
        self.waits[((self.waits.len() - 1) as f64 * p).round() as usize]
    }

    /// Main-thread task work in the busiest frame.
    pub fn task_work_max(&self) -> Duration {
        self.task_work_times
            .iter()
            .max()
            .copied()
            .unwrap_or_default()
    }
}

/// A frame longer than this is counted as stalled (see
/// [`Summary::stalled_frames`]).
pub const STALLED: Duration = Duration::from_millis(2);

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The report of one run, read at a glance.
pub fn single(summary: &Summary, task_work: &str) -> String {
    let mut out = String::new();
    let work = Summary::sorted(&summary.task_work_times);
    let work_total: Duration = work.iter().sum();
    writeln!(out, "frames              {}", summary.frame_times.len()).unwrap();
    writeln!(
        out,
        "frame time          p50 {:.3} ms   p99 {:.3} ms   max {:.3} ms   (update work, without the wait for the next frame)",
        ms(summary.frame(0.5)),
        ms(summary.frame(0.99)),
        ms(summary.frame_max()),
    ).unwrap();
    writeln!(
        out,
        "stalled frames      {} over {} ms",
        summary.stalled_frames(),
        STALLED.as_millis()
    )
    .unwrap();
    writeln!(
        out,
        "{task_work:<19} p50 {:.3} ms   p99 {:.3} ms   total {:.3} ms over {:.2} s",
        ms(percentile(&work, 0.5)),
        ms(percentile(&work, 0.99)),
        ms(work_total),
        summary.wall.as_secs_f64(),
    )
    .unwrap();
    writeln!(
        out,
        "tasks completed     {} plans ({} with an unreachable goal), {} cancelled by a goal change or a departure",
        summary.plans_done, summary.unreachable, summary.plans_cancelled
    ).unwrap();
    writeln!(
        out,
        "agents despawned    {} mid-run, their plans cancelled with them",
        summary.despawned
    )
    .unwrap();
    writeln!(out, "tasks/s             {:.0}", summary.paths_per_second()).unwrap();
    writeln!(
        out,
        "wait for a path     p50 {} frames   p99 {}   max {}",
        summary.wait(0.5),
        summary.wait(0.99),
        summary.wait(1.0)
    )
    .unwrap();
    if let Some(scheduler) = &summary.scheduler {
        writeln!(out, "scheduler           {scheduler}").unwrap();
    }
    if let Some((ran, waited)) = summary.main_thread {
        writeln!(
            out,
            "main thread         {:.0} ms on a CPU, {:.0} ms waiting for one",
            ms(ran),
            ms(waited)
        )
        .unwrap();
    }
    writeln!(out, "agents never routed {}", summary.never_routed).unwrap();
    out
}

/// The side-by-side table, in Markdown (it goes into the README as it is).
pub fn compare_table(baseline: &Summary, coro: &Summary) -> String {
    let waited = |summary: &Summary| {
        summary
            .main_thread
            .map_or(f64::NAN, |(_, waited)| ms(waited))
    };
    let stalled = format!("frames over {} ms", STALLED.as_millis());
    let rows: [(&str, f64, f64, usize); 12] = [
        (
            "frames",
            baseline.frame_times.len() as f64,
            coro.frame_times.len() as f64,
            0,
        ),
        (
            "frame time p50 (ms)",
            ms(baseline.frame(0.5)),
            ms(coro.frame(0.5)),
            3,
        ),
        (
            "frame time p99 (ms)",
            ms(baseline.frame(0.99)),
            ms(coro.frame(0.99)),
            3,
        ),
        (
            "frame time max (ms)",
            ms(baseline.frame_max()),
            ms(coro.frame_max()),
            3,
        ),
        (
            &stalled,
            baseline.stalled_frames() as f64,
            coro.stalled_frames() as f64,
            0,
        ),
        (
            "paths found per second",
            baseline.paths_per_second(),
            coro.paths_per_second(),
            0,
        ),
        (
            "wait for a path p50 (frames)",
            f64::from(baseline.wait(0.5)),
            f64::from(coro.wait(0.5)),
            0,
        ),
        (
            "wait for a path max (frames)",
            f64::from(baseline.wait(1.0)),
            f64::from(coro.wait(1.0)),
            0,
        ),
        (
            "main-thread task work, mean per frame (ms)",
            ms(baseline.task_work_mean()),
            ms(coro.task_work_mean()),
            3,
        ),
        (
            "main-thread task work, busiest frame (ms)",
            ms(baseline.task_work_max()),
            ms(coro.task_work_max()),
            3,
        ),
        (
            "main thread waiting for a CPU, whole run (ms)",
            waited(baseline),
            waited(coro),
            0,
        ),
        (
            "agents that never got a path",
            baseline.never_routed as f64,
            coro.never_routed as f64,
            0,
        ),
    ];
    let mut table = String::from(
        "| | bevy_tasks | bevy_coro | bevy_coro / bevy_tasks |\n|---|---:|---:|---:|\n",
    );
    for (name, base, ours, decimals) in rows {
        let ratio = if base > 0.0 {
            format!("{:.2}", ours / base)
        } else if ours == 0.0 {
            "=".to_string()
        } else {
            "∞".to_string()
        };
        table.push_str(&format!(
            "| {name} | {base:.decimals$} | {ours:.decimals$} | {ratio} |\n"
        ));
    }
    table
}
