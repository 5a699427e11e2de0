//! Recipe: read and parse a file from `assets/` on a worker, then insert the
//! result as a resource on the main thread, in one task.
//!
//! `cargo run --example load_on_worker`

use std::path::PathBuf;

use bevy_app::prelude::*;
use bevy_coro::prelude::*;
use bevy_ecs::prelude::*;

/// `assets/waves.txt`, parsed: one wave per line, `wave N: COUNT KIND`.
#[derive(Resource, Debug, PartialEq)]
struct Waves(Vec<(u32, String)>);

fn parse(text: &str) -> Result<Waves, String> {
    let waves = text
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .map(|(i, line)| {
            let (_, rest) = line
                .split_once(':')
                .ok_or(format!("line {}: no `:`", i + 1))?;
            let (count, kind) = rest
                .trim()
                .split_once(' ')
                .ok_or(format!("line {}: no kind", i + 1))?;
            let count = count
                .parse()
                .map_err(|_| format!("line {}: `{count}` is not a number", i + 1))?;
            Ok((count, kind.to_string()))
        })
        .collect::<Result<_, String>>()?;
    Ok(Waves(waves))
}

fn build(app: &mut App) {
    app.add_plugins(CoroPlugin::default())
        .add_systems(Startup, load);
}

fn load(coro: Res<Coro>) {
    coro.spawn::<Main>(async {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("assets/waves.txt");
        // File IO and parsing on a worker: the frame does not wait for the disk.
        let waves = async move {
            std::fs::read_to_string(&path)
                .map_err(|e| e.to_string())
                .and_then(|t| parse(&t))
        }
        .on::<Worker>()
        .await;
        // Back on the main thread, in the same task.
        with_world(move |world| match waves {
            Ok(waves) => world.insert_resource(waves),
            Err(error) => eprintln!("waves.txt: {error}"),
        })
        .await;
    })
    .detach();
}

fn main() {
    let mut app = App::new();
    build(&mut app);
    while !app.world().contains_resource::<Waves>() {
        app.update();
    }
    println!("{:?}", app.world().resource::<Waves>());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_waves_are_loaded_on_a_worker_and_inserted_on_main() {
        let mut app = App::new();
        build(&mut app);
        for _ in 0..10_000 {
            if app.world().contains_resource::<Waves>() {
                break;
            }
            app.update();
            std::thread::yield_now();
        }
        let waves = app.world().resource::<Waves>();
        assert_eq!(waves.0.len(), 3);
        assert_eq!(waves.0[2], (3, "ogres".to_string()));
        assert_eq!(parse("wave 1 5 slimes").unwrap_err(), "line 1: no `:`");
    }
}
