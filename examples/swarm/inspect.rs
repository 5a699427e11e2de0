//! `--inspect N`: every N frames, a short top-like table of the live tasks
//! (by state and by name, the oldest that are not running) and the
//! scheduler's diagnostics, from `Coro::tasks` (the plugin's `track_tasks`)
//! and, with the `diagnostics` feature, Bevy's `DiagnosticsStore`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use bevy_app::prelude::*;
use bevy_coro::prelude::*;
use bevy_coro::{CoroStats, TaskSnapshot, TaskState};
use bevy_ecs::prelude::*;

use crate::game::Swarm;

/// Every table printed so far, with the scheduler's figures of its frame
/// (for the tests).
#[derive(Resource, Default)]
pub struct Inspections(pub Vec<Inspection>);

/// One table (kept for the tests; the run only prints it).
#[cfg_attr(not(test), allow(dead_code))]
pub struct Inspection {
    /// The game frame it was taken at.
    pub frame: u32,
    /// The table as printed.
    pub text: String,
    /// `CoroStats` of that frame.
    pub stats: CoroStats,
    /// Tasks in flight when the table was taken (`Coro::in_flight`).
    pub in_flight: usize,
}

/// How often to print.
#[derive(Resource)]
struct Every(u32);

/// Prints a table every `every` frames (in `Last`, after the pump and the
/// diagnostics).
pub fn add(app: &mut App, every: u32) {
    #[cfg(feature = "diagnostics")]
    app.add_plugins(bevy_coro::CoroDiagnosticsPlugin);
    app.insert_resource(Every(every.max(1)))
        .init_resource::<Inspections>()
        .add_systems(Last, inspect);
}

fn inspect(
    every: Res<Every>,
    swarm: Res<Swarm>,
    coro: Res<Coro>,
    stats: Res<CoroStats>,
    #[cfg(feature = "diagnostics")] store: Res<bevy_diagnostic::DiagnosticsStore>,
    mut inspections: ResMut<Inspections>,
) {
    if swarm.frame == 0 || !swarm.frame.is_multiple_of(every.0) {
        return;
    }
    let tasks = coro.tasks();
    let in_flight = coro.in_flight();
    let mut text = table(swarm.frame, &tasks, &stats);
    #[cfg(feature = "diagnostics")]
    text.push_str(&diagnostics(&store));
    #[cfg(not(feature = "diagnostics"))]
    text.push_str("  diagnostics: build with --features diagnostics for Bevy's\n");
    print!("{text}");
    inspections.0.push(Inspection {
        frame: swarm.frame,
        text,
        stats: stats.clone(),
        in_flight,
    });
}

/// Counts by state: queued, running, waiting.
#[derive(Default, Clone, Copy)]
struct ByState([usize; 3]);

impl ByState {
    fn add(&mut self, state: TaskState) {
        self.0[match state {
            TaskState::Queued => 0,
            TaskState::Running => 1,
            TaskState::Waiting => 2,
        }] += 1;
    }

    fn total(&self) -> usize {
        self.0.iter().sum()
    }
}

/// The table: a summary line, tasks by name, the oldest tasks not running.
pub fn table(frame: u32, tasks: &[TaskSnapshot], stats: &CoroStats) -> String {
    let mut all = ByState::default();
    let mut by_name: BTreeMap<String, (ByState, f64)> = BTreeMap::new();
    for task in tasks {
        all.add(task.state);
        let entry = by_name.entry(task.label()).or_default();
        entry.0.add(task.state);
        entry.1 = entry.1.max(task.age.as_secs_f64());
    }
    let [queued, running, waiting] = all.0;
    let mut text = format!(
        "-- frame {frame}: {} tasks (queued {queued}, running {running}, waiting {waiting}); \
         at the pump: in flight {}, main queue {}, worker queue {}, timers {}, {:.3} ms, {} polls\n",
        all.total(),
        stats.in_flight,
        stats.main_queue,
        stats.worker_queue,
        stats.timers_pending,
        stats.pump_time.as_secs_f64() * 1e3,
        stats.main_polled,
    );
    writeln!(
        text,
        "  {:<32} {:>7} {:>7} {:>7} {:>9}",
        "name", "queued", "running", "waiting", "oldest"
    )
    .unwrap();
    let mut names: Vec<_> = by_name.into_iter().collect();
    names.sort_by(|a, b| b.1.0.total().cmp(&a.1.0.total()).then(a.0.cmp(&b.0)));
    for (name, (counts, oldest)) in names.iter().take(8) {
        let [queued, running, waiting] = counts.0;
        writeln!(
            text,
            "  {name:<32} {queued:>7} {running:>7} {waiting:>7} {oldest:>8.2}s"
        )
        .unwrap();
    }
    let mut idle: Vec<&TaskSnapshot> = tasks
        .iter()
        .filter(|task| task.state != TaskState::Running)
        .collect();
    idle.sort_by_key(|task| std::cmp::Reverse(task.age_frames));
    if !idle.is_empty() {
        text.push_str("  oldest not running:\n");
    }
    for task in idle.iter().take(3) {
        writeln!(text, "    {task}").unwrap();
    }
    text
}

/// The scheduler's Bevy diagnostics, as an overlay would read them.
#[cfg(feature = "diagnostics")]
fn diagnostics(store: &bevy_diagnostic::DiagnosticsStore) -> String {
    let mut text = String::from("  diagnostics:");
    for path in bevy_coro::CoroDiagnosticsPlugin::ALL {
        if let Some(value) = store.get(&path).and_then(|d| d.value()) {
            if value.fract() == 0.0 {
                write!(text, " {path} {value}").unwrap();
            } else {
                write!(text, " {path} {value:.3}").unwrap();
            }
        }
    }
    text.push('\n');
    text
}
