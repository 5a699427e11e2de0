//! Pinning workers to cores, with `core_affinity`. A `wasm32` build starts
//! no worker (every runtime is single-threaded there) and leaves the crate
//! out.

/// The ids of the cores this process may run on (none where they are unknown).
#[cfg(not(target_arch = "wasm32"))]
pub(super) fn core_ids() -> Vec<usize> {
    core_affinity::get_core_ids()
        .unwrap_or_default()
        .into_iter()
        .map(|core| core.id)
        .collect()
}

/// The ids of the cores this process may run on: none without threads.
#[cfg(target_arch = "wasm32")]
pub(super) fn core_ids() -> Vec<usize> {
    Vec::new()
}

/// Pins the calling thread to core `id`; `false` when the OS refused.
#[cfg(not(target_arch = "wasm32"))]
pub(super) fn pin_this_thread(id: usize) -> bool {
    core_affinity::set_for_current(core_affinity::CoreId { id })
}

/// Pins the calling thread to core `id`: never called, as `core_ids` is
/// empty (and no worker thread starts) on `wasm32`.
#[cfg(target_arch = "wasm32")]
pub(super) fn pin_this_thread(id: usize) -> bool {
    unreachable!("bevy_coro: no worker thread to pin to core {id} on wasm32")
}
