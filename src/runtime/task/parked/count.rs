//! A count spread over cache lines.

use std::sync::atomic::{AtomicIsize, Ordering};

use super::{SHARDS, home_shard};

/// A count spread over cache lines, so threads that add and subtract do not
/// fight over one.
pub(crate) struct ShardedCount {
    shards: Box<[PaddedCount]>,
}

#[repr(align(128))]
#[derive(Default)]
struct PaddedCount(AtomicIsize);

impl ShardedCount {
    pub(crate) fn new() -> Self {
        ShardedCount {
            shards: (0..SHARDS).map(|_| PaddedCount::default()).collect(),
        }
    }

    #[inline]
    pub(crate) fn add(&self) {
        self.shards[home_shard()].0.fetch_add(1, Ordering::Relaxed);
    }

    #[inline]
    pub(crate) fn sub(&self) {
        self.shards[home_shard()].0.fetch_sub(1, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> usize {
        let sum: isize = self
            .shards
            .iter()
            .map(|shard| shard.0.load(Ordering::Relaxed))
            .sum();
        sum.max(0) as usize
    }
}
