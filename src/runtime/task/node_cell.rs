//! The header's one word for a task's spawn location or its tree node.

use std::marker::PhantomData;
use std::mem::ManuallyDrop;
use std::panic::Location;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::runtime::tree::Node;

/// A task's spawn location, or its [`Node`], in one word: a `&'static
/// Location` (low bit clear) until the task gets a node, then an owned
/// `Arc<Node>` pointer with the low bit set (the node keeps the location).
/// Both are aligned to 8, so the low bit is free. The word goes from
/// location to node once (a compare-exchange), never back, and the node is
/// released when the header drops.
pub(crate) struct NodeCell(AtomicUsize);

/// A borrowed `Arc<Node>` out of a [`NodeCell`], without touching its count.
pub(crate) struct NodeRef<'a>(ManuallyDrop<Arc<Node>>, PhantomData<&'a Node>);

impl std::ops::Deref for NodeRef<'_> {
    type Target = Arc<Node>;

    fn deref(&self) -> &Arc<Node> {
        &self.0
    }
}

impl NodeCell {
    pub(crate) fn new(location: &'static Location<'static>) -> Self {
        NodeCell(AtomicUsize::new(std::ptr::from_ref(location) as usize))
    }

    /// The node, if the task has one.
    #[inline]
    pub(crate) fn get(&self) -> Option<NodeRef<'_>> {
        let word = self.0.load(Ordering::Acquire);
        (word & 1 == 1).then(|| {
            // SAFETY: a word with the low bit set came from `Arc::into_raw` in
            // `set`; the cell owns that count until the header drops, which
            // outlives the returned borrow. `ManuallyDrop` keeps this copy
            // from releasing the cell's count.
            let node = unsafe { Arc::from_raw((word & !1) as *const Node) };
            NodeRef(ManuallyDrop::new(node), PhantomData)
        })
    }

    /// The spawn location.
    #[inline]
    pub(crate) fn location(&self) -> &'static Location<'static> {
        let word = self.0.load(Ordering::Acquire);
        if word & 1 == 0 {
            // SAFETY: a word with the low bit clear is the `&'static
            // Location` stored by `new`.
            unsafe { &*(word as *const Location<'static>) }
        } else {
            // SAFETY: as in `get`: the node lives as long as the cell.
            unsafe { &*((word & !1) as *const Node) }.site.location
        }
    }

    /// Installs `node` unless the task has one already; returns the one that
    /// stays.
    pub(crate) fn set(&self, node: Arc<Node>) -> NodeRef<'_> {
        let mut current = self.0.load(Ordering::Acquire);
        let raw = Arc::into_raw(node) as usize;
        while current & 1 == 0 {
            match self.0.compare_exchange_weak(
                current,
                raw | 1,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return self.get().expect("just set"),
                Err(now) => current = now,
            }
        }
        // SAFETY: `raw` came from `Arc::into_raw` above and was not stored.
        drop(unsafe { Arc::from_raw(raw as *const Node) });
        self.get().expect("set by another thread")
    }

    /// The node, made with `make` if the task has none yet.
    pub(crate) fn get_or_init(&self, make: impl FnOnce() -> Arc<Node>) -> NodeRef<'_> {
        match self.get() {
            Some(node) => node,
            None => self.set(make()),
        }
    }
}

impl Drop for NodeCell {
    fn drop(&mut self) {
        let word = *self.0.get_mut();
        if word & 1 == 1 {
            // SAFETY: the cell owns the count taken by `Arc::into_raw` in `set`.
            drop(unsafe { Arc::from_raw((word & !1) as *const Node) });
        }
    }
}
