//! Feature `asset`: `loaded(&handle)`, with a small text asset read from a
//! temporary assets folder.
#![cfg(feature = "asset")]

mod common;

use std::path::PathBuf;

use bevy_app::{App, TaskPoolPlugin};
use bevy_asset::io::Reader;
use bevy_asset::prelude::*;
use bevy_asset::{AssetLoader, LoadContext};
use bevy_coro::prelude::*;
use bevy_internal::reflect::TypePath;
use common::*;

/// A text file; a first line `needs: other.txt` makes `other.txt` a dependency.
#[derive(Asset)]
struct Text {
    #[allow(dead_code)]
    body: String,
    #[dependency]
    needs: Option<Handle<Text>>,
}

impl TypePath for Text {
    fn type_path() -> &'static str {
        "game_assets::Text"
    }
    fn short_type_path() -> &'static str {
        "Text"
    }
}

#[derive(Default)]
struct TextLoader;

impl TypePath for TextLoader {
    fn type_path() -> &'static str {
        "game_assets::TextLoader"
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
        load_context: &mut LoadContext<'_>,
    ) -> Result<Text, std::io::Error> {
        let mut bytes = Vec::new();
        reader.read_to_end(&mut bytes).await?;
        let body = String::from_utf8_lossy(&bytes).into_owned();
        let needs = body
            .lines()
            .next()
            .and_then(|line| line.strip_prefix("needs: "))
            .map(|path| load_context.load::<Text>(path.trim().to_owned()));
        Ok(Text { body, needs })
    }

    fn extensions(&self) -> &[&str] {
        &["txt"]
    }
}

/// A folder of assets, removed when dropped.
struct Folder(PathBuf);

impl Folder {
    fn new(files: &[(&str, &str)]) -> Folder {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let dir = std::env::temp_dir().join(format!("bevy_coro_assets_{}_{n}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        Folder(dir)
    }
}

impl Drop for Folder {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn app_with_assets(workers: usize, folder: &Folder) -> App {
    let mut app = app(workers);
    app.add_plugins((
        TaskPoolPlugin::default(),
        AssetPlugin {
            file_path: folder.0.to_string_lossy().into_owned(),
            ..Default::default()
        },
    ))
    .init_asset::<Text>()
    .init_asset_loader::<TextLoader>();
    app
}

fn load(app: &App, path: &'static str) -> Handle<Text> {
    app.world().resource::<AssetServer>().load(path)
}

in_each_mode! {
fn loaded_waits_for_the_asset_and_its_dependencies(workers = 2) {
    let folder = Folder::new(&[("level.txt", "needs: tiles.txt\nlevel"), ("tiles.txt", "tiles")]);
    let mut app = app_with_assets(workers, &folder);
    let level = load(&app, "level.txt");
    let (on_main, on_worker) = (level.clone(), level.clone());
    let coro = coro(&app);
    let main = coro.spawn::<Main>(async move { loaded(&on_main).await });
    let worker = coro.spawn::<Worker>(async move { loaded(&on_worker).await });
    assert_eq!(run_task(&mut app, main), Ok(Ok(())));
    assert_eq!(run_task(&mut app, worker), Ok(Ok(())));
    let server = app.world().resource::<AssetServer>();
    assert!(server.is_loaded_with_dependencies(&level), "resolved only once all were loaded");
    app.update();
    assert_eq!(game_waits(&app), 0);
}
}

in_each_mode! {
fn a_failed_load_ends_the_wait_with_its_error(workers = 2) {
    let folder = Folder::new(&[("broken.txt", "needs: missing.txt\nbroken")]);
    let mut app = app_with_assets(workers, &folder);
    let missing = load(&app, "nowhere.txt");
    let broken = load(&app, "broken.txt");
    let coro = coro(&app);
    let missing = coro.spawn::<Worker>(async move { loaded(&missing).await });
    let broken = coro.spawn::<Main>(async move { loaded(&broken).await });
    for task in [missing, broken] {
        match run_task(&mut app, task) {
            Ok(Err(GameWaitError::LoadFailed(error))) => {
                assert!(error.contains("missing.txt") || error.contains("nowhere.txt"), "{error}");
            }
            other => panic!("{other:?}"),
        }
    }
}
}

#[test]
fn an_asset_added_by_hand_is_loaded_at_once() {
    let folder = Folder::new(&[]);
    let mut app = app_with_assets(1, &folder);
    let handle = app.world_mut().resource_mut::<Assets<Text>>().add(Text {
        body: "by hand".into(),
        needs: None,
    });
    let mut task = coro(&app).spawn::<Main>(async move { loaded(&handle).await });
    app.update();
    assert_eq!(
        task.try_take(),
        Some(Ok(Ok(()))),
        "in the frame it was awaited"
    );
}

#[test]
fn cancelled_waits_leave_nothing_registered() {
    let folder = Folder::new(&[]);
    let mut app = app_with_assets(1, &folder);
    let coro = coro(&app);
    // Never loads: a handle of an asset nobody adds.
    let nothing: Handle<Text> = Handle::default();
    for _ in 0..50 {
        let tasks: Vec<_> = (0..100)
            .map(|_| {
                let handle = nothing.clone();
                coro.spawn::<Main>(async move { loaded(&handle).await })
            })
            .collect();
        update_until(&mut app, "registered", |app| game_waits(app) == 100);
        drop(tasks);
        update_until(&mut app, "let go", |app| game_waits(app) == 0);
    }
}
