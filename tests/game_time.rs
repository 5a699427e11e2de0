//! Timers on Bevy's `Time<Virtual>`: pausing the game stops them, speed
//! scales them.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bevy_app::App;
use bevy_coro::CoroClock;
use bevy_coro::prelude::*;
use bevy_time::{Time, TimePlugin, TimeUpdateStrategy, Virtual};

const FRAME: Duration = Duration::from_millis(10);

fn game() -> App {
    let mut app = App::new();
    app.add_plugins(TimePlugin)
        .insert_resource(TimeUpdateStrategy::ManualDuration(FRAME))
        .add_plugins(CoroPlugin {
            workers: 1,
            clock: CoroClock::Virtual,
            ..Default::default()
        });
    app
}

fn frames(app: &mut App, n: usize) {
    for _ in 0..n {
        app.update();
    }
}

#[test]
fn a_paused_game_stops_timers_and_speed_scales_them() {
    let mut app = game();
    frames(&mut app, 2); // let virtual time start moving
    let runs = Arc::new(AtomicUsize::new(0));
    let count = runs.clone();
    let token = common::coro(&app)
        .every(Duration::from_millis(100))
        .first_after_period()
        .run(move || {
            count.fetch_add(1, Ordering::SeqCst);
            async {}
        });
    // 100 frames of 10 ms: 1 s of game time, 10 ticks.
    frames(&mut app, 100);
    let at_normal_speed = runs.load(Ordering::SeqCst);
    assert!(
        (9..=10).contains(&at_normal_speed),
        "{at_normal_speed} runs in 1 s"
    );

    app.world_mut().resource_mut::<Time<Virtual>>().pause();
    frames(&mut app, 100);
    assert_eq!(
        runs.load(Ordering::SeqCst),
        at_normal_speed,
        "a timer fired while paused"
    );

    {
        let mut time = app.world_mut().resource_mut::<Time<Virtual>>();
        time.unpause();
        time.set_relative_speed(2.0);
    }
    frames(&mut app, 100);
    let at_double_speed = runs.load(Ordering::SeqCst) - at_normal_speed;
    assert!(
        (19..=21).contains(&at_double_speed),
        "{at_double_speed} runs in 1 s at 2x"
    );
    assert_eq!(token.ticks_skipped(), 0);
}

#[test]
fn sleep_follows_game_time() {
    let mut app = game();
    frames(&mut app, 1);
    let mut task =
        common::coro(&app).spawn::<Worker>(async { sleep(Duration::from_millis(50)).await });
    app.world_mut().resource_mut::<Time<Virtual>>().pause();
    frames(&mut app, 50);
    assert!(task.try_take().is_none(), "slept through a pause");
    app.world_mut().resource_mut::<Time<Virtual>>().unpause();
    common::update_until(&mut app, "sleep on game time", |_| task.is_finished());
    assert_eq!(task.try_take(), Some(Ok(())));
}

#[test]
fn delayed_and_with_world_together() {
    #[derive(bevy_ecs::prelude::Resource)]
    struct Wave(u32);
    let mut app = game();
    frames(&mut app, 1);
    let token = common::coro(&app).delayed(Duration::from_millis(30), || async {
        with_world(|world| world.insert_resource(Wave(1))).await;
    });
    frames(&mut app, 2);
    assert!(!app.world().contains_resource::<Wave>());
    frames(&mut app, 3);
    assert_eq!(app.world().resource::<Wave>().0, 1);
    assert!(token.is_finished());
}
