//! Feature `diagnostics`: `CoroDiagnosticsPlugin`'s values are `CoroStats`'
//! every frame, while tasks come and go, timers fire and tasks panic.
#![cfg(feature = "diagnostics")]

mod common;

use std::time::Duration;

use bevy_app::App;
use bevy_coro::prelude::*;
use bevy_coro::{CoroDiagnosticsPlugin, CoroStats};
use bevy_diagnostic::DiagnosticsStore;
use common::*;

/// Each diagnostic's latest value, in `CoroDiagnosticsPlugin::ALL`'s order.
fn values(app: &App) -> Vec<Option<f64>> {
    let store = app.world().resource::<DiagnosticsStore>();
    CoroDiagnosticsPlugin::ALL
        .iter()
        .map(|path| store.get(path).and_then(|d| d.value()))
        .collect()
}

/// What each should be, from `CoroStats`.
fn expected(stats: &CoroStats) -> Vec<Option<f64>> {
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
    .into_iter()
    .map(Some)
    .collect()
}

in_each_mode! {
    /// Frame after frame, with work of every kind under way, each value is
    /// the frame's `CoroStats` figure; and the figures move (a test whose
    /// values stayed zero could not tell a broken plugin).
    fn the_values_match_coro_stats_every_frame(workers = 2) {
        let mut app = app(workers);
        app.add_plugins(CoroDiagnosticsPlugin);
        let coro = coro(&app);
        let mut seen_in_flight = Vec::new();
        let mut panics_seen = 0.0;
        let mut timers_pending = Vec::new();
        let mut kept = Vec::new();
        for frame in 0..60u32 {
            match frame % 6 {
                0 if frame < 40 => kept.push(coro.spawn::<Main>(sleep(Duration::from_secs(600)))),
                1 => coro.spawn::<Main>(async { panic!("planted") }).detach(),
                2 => {
                    for _ in 0..frame {
                        coro.spawn::<Main>(yield_now()).detach();
                    }
                }
                3 if frame < 40 => kept.push(coro.spawn::<Worker>(until(|_| false))),
                _ => {}
            }
            if frame == 40 {
                kept.clear();
            }
            app.update();
            let stats = app.world().resource::<CoroStats>().clone();
            assert_eq!(values(&app), expected(&stats), "frame {frame}: {stats:?}");
            seen_in_flight.push(stats.in_flight);
            panics_seen = values(&app)[8].unwrap();
            timers_pending.push(values(&app)[5].unwrap());
        }
        assert_eq!(panics_seen, 10.0, "one planted panic every 6 frames");
        assert!(seen_in_flight.iter().any(|&n| n > 5), "{seen_in_flight:?}");
        // Sleeps filed and then cancelled at frame 40.
        assert_eq!(timers_pending[39], 7.0, "{timers_pending:?}");
        assert_eq!(timers_pending[59], 0.0, "{timers_pending:?}");
        // Every path is registered with the store, so LogDiagnosticsPlugin
        // prints them all.
        let store = app.world().resource::<DiagnosticsStore>();
        assert_eq!(
            store.iter().filter(|d| d.path().as_str().starts_with("coro/")).count(),
            CoroDiagnosticsPlugin::ALL.len()
        );
    }
}
