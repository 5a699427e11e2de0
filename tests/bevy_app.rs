//! With Bevy's `MinimalPlugins` (from `bevy_internal`, what the `bevy` crate
//! re-exports): tasks, timers on `Time<Virtual>`, and `with_world`.

mod common;

use std::time::Duration;

use bevy_coro::prelude::*;

use bevy_coro::CoroClock;
use bevy_internal::prelude::*;
use bevy_internal::time::TimeUpdateStrategy;

#[derive(Resource, Default)]
struct Ticks(u32);

#[test]
fn coro_plugin_runs_beside_minimal_plugins() {
    let mut app = App::new();
    app.add_plugins(MinimalPlugins)
        .add_plugins(CoroPlugin {
            workers: 1,
            clock: CoroClock::Virtual,
            ..Default::default()
        })
        .insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(
            50,
        )))
        .init_resource::<Ticks>();
    // `Main` here is both Bevy's schedule label and our affinity: one item,
    // so the two preludes glob-import side by side.
    let coro = common::coro(&app);
    let token = coro
        .every(Duration::from_millis(100))
        .first_after_period()
        .run(|| async {
            with_world(|world| world.resource_mut::<Ticks>().0 += 1).await;
        });
    let worker = coro.spawn::<Worker>(async {
        sleep(Duration::from_millis(200)).await;
        with_world(|world| world.resource::<Ticks>().0).await
    });
    let seen = common::run_task(&mut app, worker).unwrap();
    assert!(
        seen >= 1,
        "the interval ticked on game time before the worker woke"
    );
    for _ in 0..20 {
        app.update();
    }
    // 50 ms frames, a 100 ms period: about one tick every two frames.
    let ticks = app.world().resource::<Ticks>().0;
    assert!(ticks >= 10, "{ticks} ticks");
    assert_eq!(token.ticks_skipped(), 0);
    app.add_systems(Update, |mut commands: Commands| {
        commands.spawn_task::<Main>(async {});
    });
    app.update();
}
