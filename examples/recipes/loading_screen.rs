//! Recipe: a loading screen. One task starts loading the level's assets,
//! shows how many are in while it waits for each with `loaded(&handle)` (the
//! asset and everything it depends on), then starts the level; if one fails,
//! the screen says which and why instead. No system polls the asset server:
//! the pump's check looks the waited handles up once a frame and wakes the
//! task when one is in.
//!
//! `cargo run --example loading_screen --features asset`

use std::path::{Path, PathBuf};
use std::time::Duration;

use bevy_app::{AppExit, ScheduleRunnerPlugin, TaskPoolPlugin, prelude::*};
use bevy_asset::io::Reader;
use bevy_asset::prelude::*;
use bevy_asset::{AssetLoader, LoadContext};
use bevy_coro::prelude::*;
use bevy_ecs::prelude::*;
use bevy_internal::reflect::TypePath;

/// The level's files.
const LEVEL: [&str; 3] = ["map.txt", "music.txt", "enemies.txt"];

/// What the loading screen shows.
#[derive(Debug, PartialEq, Eq)]
enum Screen {
    Loading { done: usize, of: usize },
    Failed(String),
    Playing,
}

/// Every screen shown, in order (the last is the one up now).
#[derive(Resource, Default)]
struct Shown(Vec<Screen>);

impl Shown {
    fn is_done(&self) -> bool {
        matches!(self.0.last(), Some(Screen::Playing | Screen::Failed(_)))
    }
}

fn build(app: &mut App, assets: &Path) {
    app.add_plugins((
        TaskPoolPlugin::default(),
        AssetPlugin {
            file_path: assets.to_string_lossy().into_owned(),
            ..Default::default()
        },
        CoroPlugin::default(),
    ))
    .init_asset::<Text>()
    .init_asset_loader::<TextLoader>()
    .init_resource::<Shown>()
    .add_systems(Startup, start_loading);
}

fn start_loading(coro: Res<Coro>, server: Res<AssetServer>) {
    let handles: Vec<Handle<Text>> = LEVEL.iter().map(|path| server.load(*path)).collect();
    coro.spawn::<Main>(async move {
        let of = handles.len();
        show(Screen::Loading { done: 0, of }).await;
        for (done, handle) in handles.iter().enumerate() {
            if let Err(error) = loaded(handle).await {
                show(Screen::Failed(error.to_string())).await;
                return;
            }
            show(Screen::Loading { done: done + 1, of }).await;
        }
        show(Screen::Playing).await;
    })
    .detach();
}

async fn show(screen: Screen) {
    println!("{screen:?}");
    with_world(move |world| world.resource_mut::<Shown>().0.push(screen)).await;
}

/// A text asset (a real game would load scenes, images, sounds).
#[derive(Asset)]
struct Text(#[allow(dead_code)] String);

impl TypePath for Text {
    fn type_path() -> &'static str {
        "loading_screen::Text"
    }
    fn short_type_path() -> &'static str {
        "Text"
    }
}

#[derive(Default)]
struct TextLoader;

impl TypePath for TextLoader {
    fn type_path() -> &'static str {
        "loading_screen::TextLoader"
    }
    fn short_type_path() -> &'static str {
        "TextLoader"
    }
}

impl AssetLoader for TextLoader {
    type Asset = Text;
    type Settings = ();
    type Error = std::io::Error;

    async fn load(
        &self,
        reader: &mut dyn Reader,
        _settings: &(),
        _load_context: &mut LoadContext<'_>,
    ) -> Result<Text, std::io::Error> {
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).await?;
        Ok(Text(String::from_utf8_lossy(&bytes).into_owned()))
    }

    fn extensions(&self) -> &[&str] {
        &["txt"]
    }
}

/// A folder with the level's files but those in `leave_out`.
fn write_assets(name: &str, leave_out: &[&str]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bevy_coro_{name}_{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    for file in LEVEL.iter().filter(|file| !leave_out.contains(file)) {
        std::fs::write(dir.join(file), format!("the {file}")).unwrap();
    }
    dir
}

fn main() {
    let assets = write_assets("loading_screen", &[]);
    let mut app = App::new();
    app.add_plugins(ScheduleRunnerPlugin::run_loop(Duration::from_millis(16)));
    build(&mut app, &assets);
    app.add_systems(
        Last,
        |shown: Res<Shown>, mut exit: MessageWriter<AppExit>| {
            if shown.is_done() {
                exit.write(AppExit::Success);
            }
        },
    );
    app.run();
    let _ = std::fs::remove_dir_all(assets);
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Runs frames until the screen is done loading; returns what it showed.
    fn play(leave_out: &[&str], name: &str) -> Vec<Screen> {
        let assets = write_assets(name, leave_out);
        let mut app = App::new();
        build(&mut app, &assets);
        let start = std::time::Instant::now();
        while !app.world().resource::<Shown>().is_done() {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "watchdog: still loading: {:?}",
                app.world().resource::<Shown>().0
            );
            app.update();
            std::thread::yield_now();
        }
        let _ = std::fs::remove_dir_all(&assets);
        app.world_mut().remove_resource::<Shown>().unwrap().0
    }

    #[test]
    fn the_level_starts_once_every_asset_is_in() {
        let shown = play(&[], "loading_screen_ok");
        assert_eq!(shown.first(), Some(&Screen::Loading { done: 0, of: 3 }));
        assert_eq!(shown.last(), Some(&Screen::Playing));
        // Counted up one by one, never past what was loaded.
        let counts: Vec<usize> = shown
            .iter()
            .filter_map(|screen| match screen {
                Screen::Loading { done, .. } => Some(*done),
                _ => None,
            })
            .collect();
        assert!(
            counts.windows(2).all(|pair| pair[0] < pair[1]),
            "{counts:?}"
        );
        assert_eq!(counts.last(), Some(&3));
    }

    #[test]
    fn a_missing_asset_shows_why_instead_of_starting() {
        let shown = play(&["music.txt"], "loading_screen_missing");
        match shown.last() {
            Some(Screen::Failed(why)) => assert!(why.contains("music.txt"), "{why}"),
            other => panic!("{other:?}"),
        }
        assert!(!shown.contains(&Screen::Playing));
    }
}
