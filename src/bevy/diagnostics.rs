//! Feature `diagnostics`: [`CoroDiagnosticsPlugin`], the scheduler's
//! figures as Bevy [`Diagnostic`]s, for `LogDiagnosticsPlugin` and any
//! overlay built on `DiagnosticsStore`.

use bevy_app::{App, Plugin, PostUpdate};
use bevy_diagnostic::{
    DEFAULT_MAX_HISTORY_LENGTH, Diagnostic, DiagnosticPath, Diagnostics, RegisterDiagnostic,
};
use bevy_ecs::prelude::*;

use crate::bevy::coro::CoroStats;
use crate::bevy::plugin::CoroSystems;

/// Registers the scheduler's figures as Bevy diagnostics, measured from
/// [`CoroStats`] once per frame (in `PostUpdate`, after the pump; with the
/// pump moved to a later schedule, the figures are a frame late): with
/// `LogDiagnosticsPlugin` they are printed with the frame time, and any
/// overlay built on `DiagnosticsStore` shows them. Add it after
/// [`CoroPlugin`](crate::CoroPlugin).
///
/// ```
/// use bevy_app::App;
/// use bevy_coro::prelude::*;
/// use bevy_coro::CoroDiagnosticsPlugin;
/// use bevy_diagnostic::DiagnosticsStore;
///
/// let mut app = App::new();
/// app.add_plugins((CoroPlugin { workers: 0, ..Default::default() }, CoroDiagnosticsPlugin));
/// let coro = app.world().resource::<Coro>().clone();
/// coro.spawn::<Main>(std::future::pending::<()>()).detach();
/// app.update();
/// let store = app.world().resource::<DiagnosticsStore>();
/// let in_flight = store.get(&CoroDiagnosticsPlugin::IN_FLIGHT).unwrap().value();
/// assert_eq!(in_flight, Some(1.0));
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct CoroDiagnosticsPlugin;

impl CoroDiagnosticsPlugin {
    /// This frame's pump, in milliseconds of wall time ([`CoroStats::pump_time`]).
    pub const PUMP_TIME: DiagnosticPath = DiagnosticPath::const_new("coro/pump_time");
    /// Task polls in this frame's pump ([`CoroStats::main_polled`]).
    pub const MAIN_POLLS: DiagnosticPath = DiagnosticPath::const_new("coro/main_polls");
    /// Tasks spawned and not yet finished ([`CoroStats::in_flight`]).
    pub const IN_FLIGHT: DiagnosticPath = DiagnosticPath::const_new("coro/in_flight");
    /// Tasks waiting for the main thread after the pump ([`CoroStats::main_queue`]).
    pub const MAIN_QUEUE: DiagnosticPath = DiagnosticPath::const_new("coro/main_queue");
    /// Tasks waiting for a worker after the pump ([`CoroStats::worker_queue`]).
    pub const WORKER_QUEUE: DiagnosticPath = DiagnosticPath::const_new("coro/worker_queue");
    /// Timers filed and not yet fired ([`CoroStats::timers_pending`]).
    pub const TIMERS_PENDING: DiagnosticPath = DiagnosticPath::const_new("coro/timers_pending");
    /// Timers fired in this frame's pump ([`CoroStats::timers_fired`]).
    pub const TIMERS_FIRED: DiagnosticPath = DiagnosticPath::const_new("coro/timers_fired");
    /// Waits on the game registered with the World ([`CoroStats::game_waits`]).
    pub const GAME_WAITS: DiagnosticPath = DiagnosticPath::const_new("coro/game_waits");
    /// Panics since the start ([`CoroStats::panics`]).
    pub const PANICS: DiagnosticPath = DiagnosticPath::const_new("coro/panics");
    /// Interval ticks skipped since the start ([`CoroStats::ticks_skipped`]).
    pub const TICKS_SKIPPED: DiagnosticPath = DiagnosticPath::const_new("coro/ticks_skipped");

    /// Every path this plugin registers, with what each measures.
    pub const ALL: [DiagnosticPath; 10] = [
        Self::PUMP_TIME,
        Self::MAIN_POLLS,
        Self::IN_FLIGHT,
        Self::MAIN_QUEUE,
        Self::WORKER_QUEUE,
        Self::TIMERS_PENDING,
        Self::TIMERS_FIRED,
        Self::GAME_WAITS,
        Self::PANICS,
        Self::TICKS_SKIPPED,
    ];

    /// This frame's value of each diagnostic, in [`ALL`](Self::ALL)'s order.
    fn measure(stats: &CoroStats) -> [f64; 10] {
        [
            stats.pump_time.as_secs_f64() * 1000.0,
            stats.main_polled as f64,
            stats.in_flight as f64,
            stats.main_queue as f64,
            stats.worker_queue as f64,
            stats.timers_pending as f64,
            stats.timers_fired as f64,
            stats.game_waits as f64,
            stats.panics as f64,
            stats.ticks_skipped as f64,
        ]
    }

    fn measure_system(mut diagnostics: Diagnostics, stats: Option<Res<CoroStats>>) {
        let Some(stats) = stats else {
            return;
        };
        let values = Self::measure(&stats);
        for (path, value) in Self::ALL.iter().zip(values) {
            diagnostics.add_measurement(path, || value);
        }
    }
}

impl Plugin for CoroDiagnosticsPlugin {
    fn build(&self, app: &mut App) {
        for path in Self::ALL {
            let totals = path == Self::PANICS || path == Self::TICKS_SKIPPED;
            let suffix = path == Self::PUMP_TIME;
            let mut diagnostic = Diagnostic::new(path);
            if suffix {
                diagnostic = diagnostic.with_suffix("ms");
            }
            // Totals since the start: an average of them means nothing.
            diagnostic = if totals {
                diagnostic
                    .with_max_history_length(0)
                    .with_smoothing_factor(0.0)
            } else {
                diagnostic.with_max_history_length(DEFAULT_MAX_HISTORY_LENGTH)
            };
            app.register_diagnostic(diagnostic);
        }
        app.add_systems(PostUpdate, Self::measure_system.after(CoroSystems::Pump));
    }
}
