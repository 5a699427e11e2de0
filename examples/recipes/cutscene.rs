//! Recipe: a cutscene as one main-thread task, step by step with `sleep` and
//! `next_frame`, the way Unity coroutines are used; each step reads or writes
//! the World.
//!
//! `cargo run --example cutscene`

use std::time::Duration;

use bevy_app::prelude::*;
use bevy_coro::CoroClock;
use bevy_coro::prelude::*;
use bevy_ecs::prelude::*;
use bevy_time::TimePlugin;

/// What the cutscene did, and in which frame.
#[derive(Resource, Default)]
struct Script(Vec<(u32, &'static str)>);

#[derive(Resource, Default)]
struct Frame(u32);

async fn say(line: &'static str) {
    with_world(move |world| {
        let frame = world.resource::<Frame>().0;
        world.resource_mut::<Script>().0.push((frame, line));
        println!("[frame {frame}] {line}");
    })
    .await;
}

fn build(app: &mut App) {
    app.add_plugins(TimePlugin)
        .add_plugins(CoroPlugin {
            clock: CoroClock::Virtual,
            ..Default::default()
        })
        .init_resource::<Script>()
        .init_resource::<Frame>()
        .add_systems(First, |mut frame: ResMut<Frame>| frame.0 += 1)
        .add_systems(Startup, |coro: Res<Coro>| {
            coro.spawn::<Main>(async {
                say("the door creaks open").await;
                next_frame().await;
                say("a shadow moves").await;
                sleep(Duration::from_millis(500)).await; // half a second of game time
                say("the hero draws a sword").await;
                for _ in 0..3 {
                    next_frame().await;
                }
                say("fight!").await;
            })
            .detach();
        });
}

fn main() {
    let mut app = App::new();
    build(&mut app);
    while app.world().resource::<Script>().0.len() < 4 {
        app.update();
        std::thread::sleep(Duration::from_millis(16));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bevy_time::TimeUpdateStrategy;

    #[test]
    fn the_steps_come_in_order_on_their_frames() {
        let mut app = App::new();
        build(&mut app);
        app.insert_resource(TimeUpdateStrategy::ManualDuration(Duration::from_millis(
            100,
        )));
        for _ in 0..30 {
            app.update();
        }
        let script = &app.world().resource::<Script>().0;
        let lines: Vec<_> = script.iter().map(|(_, line)| *line).collect();
        assert_eq!(
            lines,
            [
                "the door creaks open",
                "a shadow moves",
                "the hero draws a sword",
                "fight!"
            ]
        );
        let frames: Vec<_> = script.iter().map(|(frame, _)| *frame).collect();
        assert_eq!(frames[1], frames[0] + 1, "next_frame is one frame");
        assert!(
            frames[2] >= frames[1] + 5,
            "500 ms at 100 ms a frame: {frames:?}"
        );
        assert_eq!(frames[3], frames[2] + 3, "three next_frames");
    }
}
