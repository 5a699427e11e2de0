//! The wheel against a sorted model, its edges and its memory.

use super::*;

/// Advances to `now` and returns what fired, sorted.
fn fired(wheel: &mut Wheel<u64>, now: u64) -> Vec<u64> {
    let mut out = Vec::new();
    wheel.advance(now, |v| out.push(v));
    out.sort();
    out
}

#[test]
fn fires_each_timer_at_its_tick_and_not_before() {
    let mut wheel = Wheel::new();
    let ticks = [1, 2, 63, 64, 65, 100, 4095, 4096, 4097, 300_000, 20_000_000];
    for &t in &ticks {
        wheel.insert(t, t).unwrap();
    }
    let mut now = 0;
    for &t in &ticks {
        assert_eq!(
            fired(&mut wheel, t - 1),
            Vec::<u64>::new(),
            "fired early before {t} (now {now})"
        );
        assert_eq!(fired(&mut wheel, t), vec![t]);
        now = t;
    }
    assert_eq!(wheel.len(), 0);
    assert_eq!(wheel.next_due(), None);
}

#[test]
fn a_big_jump_fires_everything_due() {
    let mut wheel = Wheel::new();
    for t in (1..10_000u64).step_by(7) {
        wheel.insert(t, t).unwrap();
    }
    let all = fired(&mut wheel, 1_000_000);
    assert_eq!(all.len(), (1..10_000u64).step_by(7).count());
    assert!(all.windows(2).all(|w| w[0] < w[1]));
}

#[test]
fn matches_a_sorted_model_under_random_steps() {
    let mut wheel = Wheel::new();
    let mut model: Vec<u64> = Vec::new();
    let mut seed = 0x1234_5678_u64;
    let mut rand = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut now = 0;
    let mut keys = Vec::new();
    for round in 0..20_000 {
        match rand() % 4 {
            0 | 1 => {
                let tick =
                    now + 1 + rand() % [10, 1_000, 100_000, 10_000_000][(round % 4) as usize];
                keys.push((wheel.insert(tick, tick).unwrap(), tick));
                model.push(tick);
            }
            2 if !keys.is_empty() => {
                let (key, tick) = keys.swap_remove((rand() as usize) % keys.len());
                assert_eq!(wheel.remove(key), Some(tick));
                let at = model.iter().position(|&t| t == tick).unwrap();
                model.swap_remove(at);
            }
            _ => {
                now += rand() % 5_000;
                let got = fired(&mut wheel, now);
                let mut want: Vec<u64> = model.iter().copied().filter(|&t| t <= now).collect();
                want.sort();
                model.retain(|&t| t > now);
                keys.retain(|&(_, t)| t > now);
                assert_eq!(got, want, "at {now}");
            }
        }
        assert_eq!(wheel.len(), model.len());
        if let (Some(due), Some(&min)) = (wheel.next_due(), model.iter().min()) {
            assert!(due <= min, "next_due {due} after the earliest timer {min}");
        }
    }
}

#[test]
fn far_timers_wait_and_past_ticks_are_refused() {
    let mut wheel = Wheel::new();
    let far = WINDOW_MASK * 3;
    wheel.insert(far, 1).unwrap();
    wheel.insert(far + 5, 2).unwrap();
    // Step through the far future in uneven strides, crossing the top
    // level's wrap several times.
    let mut now = 0;
    while now < far - 1 {
        now = (now + WINDOW_MASK / 7 + 12_345).min(far - 1);
        assert_eq!(fired(&mut wheel, now), Vec::<u64>::new(), "early at {now}");
    }
    assert_eq!(fired(&mut wheel, far), vec![1]);
    assert_eq!(fired(&mut wheel, far + 5), vec![2]);
    assert_eq!(wheel.insert(far, 3), Err(3));
}

#[test]
fn timers_near_the_top_window_edge() {
    let mut wheel = Wheel::new();
    let edge = WINDOW_MASK; // the last tick of the first top-level rotation
    wheel.advance(edge - 3, |_| {});
    for offset in [1, 2, 3, 4, 64, 4096, WINDOW_MASK - 1, WINDOW_MASK] {
        wheel.insert(edge - 3 + offset, edge - 3 + offset).unwrap();
    }
    let mut got = Vec::new();
    for now in [edge, edge + 1, edge + 61, edge + 4093, edge + WINDOW_MASK] {
        got.extend(fired(&mut wheel, now));
    }
    got.extend(fired(&mut wheel, edge * 3));
    let mut want: Vec<u64> = [1, 2, 3, 4, 64, 4096, WINDOW_MASK - 1, WINDOW_MASK]
        .iter()
        .map(|o| edge - 3 + o)
        .collect();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn a_key_kept_past_its_fire_finds_nothing_in_the_reused_entry() {
    let mut wheel = Wheel::new();
    let old = wheel.insert(1, 1).unwrap();
    assert_eq!(fired(&mut wheel, 1), vec![1]);
    assert_eq!(wheel.len(), 0, "freed as it fired");
    let new = wheel.insert(5, 5).unwrap();
    assert_eq!(new.index, old.index, "the entry is reused");
    assert_eq!(wheel.remove(old), None);
    assert!(wheel.pending_mut(old).is_none());
    assert_eq!(wheel.len(), 1);
    assert_eq!(wheel.remove(new), Some(5));
    assert_eq!(wheel.remove(new), None, "removed once");
}

#[test]
fn drain_gives_back_the_pending_timers_only() {
    let mut wheel = Wheel::new();
    let keys: Vec<_> = (1..=4).map(|t| wheel.insert(t * 100, t).unwrap()).collect();
    assert_eq!(wheel.remove(keys[1]), Some(2));
    assert_eq!(fired(&mut wheel, 100), vec![1]);
    let mut left = wheel.drain();
    left.sort();
    assert_eq!(left, vec![3, 4], "neither the removed nor the fired one");
    assert_eq!(wheel.len(), 0);
    assert!(wheel.pending_mut(keys[2]).is_none());
    // The drained wheel files again.
    let key = wheel.insert(500, 5).unwrap();
    assert_eq!(fired(&mut wheel, 500), vec![5]);
    assert_eq!(wheel.remove(key), None);
}

#[test]
fn churn_keeps_memory_flat() {
    let mut wheel = Wheel::new();
    for i in 0..1_000_000u64 {
        let key = wheel.insert(1 + i % 5_000, i).unwrap();
        wheel.remove(key);
    }
    assert_eq!(wheel.len(), 0);
    assert!(
        wheel.entries.capacity() <= 4,
        "capacity grew to {}",
        wheel.entries.capacity()
    );
}
