//! [`loaded`] (feature `asset`): wait for an asset and its dependencies.

use bevy_asset::{
    Asset, AssetServer, Assets, Handle, LoadState, RecursiveDependencyLoadState, UntypedAssetId,
    UntypedHandle,
};
use bevy_ecs::prelude::*;

use super::slot::{Abandoned, Fill, slot};
use super::wait::{GameWait, GameWaitError};
use super::watchers::{Watcher, register};

type Outcome = Result<(), GameWaitError>;

/// Where an asset stands: `None` while it loads.
type Look = fn(&World, UntypedAssetId) -> Option<Outcome>;

struct Loading {
    /// Held so the asset is not dropped (and its load cancelled) meanwhile.
    handle: UntypedHandle,
    look: Look,
    fill: Fill<Outcome>,
}

/// The assets tasks wait on, each looked up in the asset server once per
/// frame (loading screens wait on a few handles, not thousands).
#[derive(Default)]
struct AssetWaits {
    loading: Vec<Loading>,
    abandoned: Abandoned,
}

impl Watcher for AssetWaits {
    fn check(&mut self, world: &mut World) {
        let world = &*world;
        for done in self.loading.extract_if(.., |wait| {
            wait.fill.is_abandoned() || (wait.look)(world, wait.handle.id()).is_some()
        }) {
            if let Some(outcome) = (done.look)(world, done.handle.id()) {
                // Refused only by a task that gave up meanwhile.
                let _ = done.fill.fill(outcome);
            }
        }
    }

    fn waiting(&self) -> usize {
        self.loading.len()
    }
}

/// Where the asset `id` of type `A` stands: loaded with its dependencies,
/// failed (it or one of them), or `None` while loading.
fn look<A: Asset>(world: &World, id: UntypedAssetId) -> Option<Outcome> {
    let server = world.get_resource::<AssetServer>();
    match server.and_then(|server| server.get_load_states(id)) {
        Some((LoadState::Failed(error), _, _))
        | Some((_, _, RecursiveDependencyLoadState::Failed(error))) => {
            Some(Err(GameWaitError::LoadFailed(error.to_string())))
        }
        Some((LoadState::Loaded, _, RecursiveDependencyLoadState::Loaded)) => Some(Ok(())),
        Some(_) => None,
        // Not the server's: added by hand (`Assets::add`), there or not yet.
        None => {
            let assets = world.get_resource::<Assets<A>>().unwrap_or_else(|| {
                panic!(
                    "bevy_coro: `loaded` waits on a `{}`, but the App has no such assets: add \
                     AssetPlugin and `init_asset::<{0}>()`",
                    std::any::type_name::<A>()
                )
            });
            assets.contains(id.typed::<A>()).then_some(Ok(()))
        }
    }
}

/// Waits until the asset of `handle` and all its dependencies (recursively)
/// are loaded: `Ok(())`, at once if they are already; or
/// [`GameWaitError::LoadFailed`] with the loader's error if it or one of its
/// dependencies failed. An asset added by hand (`Assets::add`) counts as
/// loaded once it is in its `Assets`. The wait holds a clone of the handle,
/// so the asset is not dropped while a task waits on it.
///
/// Each wait looks its asset up in the `AssetServer` once per frame, in the
/// pump's check: meant for the handful of handles of a loading screen.
///
/// ```
/// # use bevy_asset::prelude::*;
/// # use bevy_coro::prelude::*;
/// async fn load_level<Level: Asset>(level: Handle<Level>) -> Result<(), GameWaitError> {
///     loaded(&level).await?;
///     // Spawn the level...
///     Ok(())
/// }
/// ```
///
/// # Panics
///
/// In the waiting task, when the App has no `Assets<A>` (no `AssetPlugin`,
/// or the asset type was never initialised); and as
/// [`with_world`](crate::with_world).
pub fn loaded<A: Asset>(handle: &Handle<A>) -> GameWait<Outcome> {
    let handle = handle.clone().untyped();
    GameWait::new("asset", std::any::type_name::<A>(), async move {
        let waiting = register(
            |_| AssetWaits::default(),
            move |waits: &mut AssetWaits, world| {
                if let Some(outcome) = look::<A>(world, handle.id()) {
                    return Err(outcome);
                }
                let (fill, wait) = slot(&waits.abandoned);
                waits.loading.push(Loading {
                    handle,
                    look: look::<A>,
                    fill,
                });
                Ok(wait)
            },
        )
        .await;
        match waiting {
            Err(outcome) => outcome,
            Ok(wait) => wait.await.unwrap_or(Err(GameWaitError::WorldGone)),
        }
    })
}
