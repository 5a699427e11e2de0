//! Recipe: an interval that updates a resource every second and is cancelled
//! when the countdown reaches zero. Timers follow game time (`Time<Virtual>`).
//!
//! `cargo run --example countdown`

use std::time::Duration;

use bevy_app::{AppExit, ScheduleRunnerPlugin, prelude::*};
use bevy_coro::CoroClock;
use bevy_coro::prelude::*;
use bevy_ecs::prelude::*;
use bevy_time::TimePlugin;

#[derive(Resource)]
struct Countdown(u32);

/// Holds the interval: dropping the handle (or this resource) stops it.
#[derive(Resource)]
struct Ticking(TimerHandle);

fn build(app: &mut App) {
    app.add_plugins(TimePlugin)
        .add_plugins(CoroPlugin {
            clock: CoroClock::Virtual,
            ..Default::default()
        })
        .insert_resource(Countdown(3))
        .add_systems(Startup, start)
        .add_systems(Update, stop_at_zero);
}

fn start(mut commands: Commands, coro: Res<Coro>) {
    let timer = coro
        .every(Duration::from_secs(1))
        .first_after_period()
        .run(|| async {
            with_world(|world| {
                let mut countdown = world.resource_mut::<Countdown>();
                countdown.0 -= 1;
                println!("{}...", countdown.0);
            })
            .await;
        });
    commands.insert_resource(Ticking(timer));
}

fn stop_at_zero(mut commands: Commands, countdown: Res<Countdown>, ticking: Option<Res<Ticking>>) {
    if let Some(ticking) = ticking.filter(|_| countdown.0 == 0) {
        commands.remove_resource::<Ticking>(); // drops the handle: the interval ends
        println!("liftoff after {} ticks", ticking.0.runs_started());
    }
}

fn main() {
    let mut app = App::new();
    app.add_plugins(ScheduleRunnerPlugin::run_loop(Duration::from_millis(16)));
    build(&mut app);
    app.add_systems(
        Last,
        |ticking: Option<Res<Ticking>>, mut exit: MessageWriter<AppExit>| {
            if ticking.is_none() {
                exit.write(AppExit::Success);
            }
        },
    );
    app.run();
}

#[cfg(test)]
mod tests {
    use super::*;
    use bevy_time::TimeUpdateStrategy;

    #[test]
    fn counts_down_once_per_second_and_stops_at_zero() {
        let mut app = App::new();
        build(&mut app);
        app.insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(
            250,
        )));
        let mut frames = 0;
        while app.world().get_resource::<Ticking>().is_some() || frames == 0 {
            app.update();
            frames += 1;
            assert!(frames < 100, "the countdown never ended");
        }
        // 3 ticks of 1 s at 4 frames a second.
        assert!((12..=16).contains(&frames), "{frames} frames");
        for _ in 0..20 {
            app.update(); // cancelled: no more ticks
        }
        assert_eq!(app.world().resource::<Countdown>().0, 0);
    }
}
