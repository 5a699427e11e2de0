//! Maps generated from a seed: scattered blocks, a maze, rooms joined by
//! doors (the families of the Moving AI benchmark set).

use crate::map::Grid;
use crate::rng::Rng;

impl Grid {
    /// A map with scattered blocks and a few long walls with gaps.
    pub fn generate(width: u16, height: u16, seed: u64) -> Grid {
        let mut rng = Rng::new(seed);
        let mut walkable = vec![true; width as usize * height as usize];
        for cell in walkable.iter_mut() {
            *cell = rng.below(100) >= 18;
        }
        for wall in 1..6u16 {
            let x = wall * width / 6;
            for y in 0..height {
                // A wall with a door every 16 cells.
                if y % 16 != 8 {
                    walkable[y as usize * width as usize + x as usize] = false;
                }
            }
        }
        Grid::new(width, height, walkable)
    }

    /// A maze in the family of Moving AI's `maze` maps: corridors 2 cells
    /// wide between walls 1 cell thick, carved by a seeded depth-first walk,
    /// then about one wall in nine between neighbouring corridors knocked out
    /// so that paths are not unique. The outer edge is wall; cells the maze's
    /// pitch leaves over on the right and bottom are wall too.
    pub fn maze(width: u16, height: u16, seed: u64) -> Grid {
        const CORRIDOR: usize = 2;
        const PITCH: usize = CORRIDOR + 1;
        let (w, h) = (width as usize, height as usize);
        let mut rng = Rng::new(seed);
        let mut walkable = vec![false; w * h];
        let (columns, rows) = ((w.saturating_sub(1)) / PITCH, (h.saturating_sub(1)) / PITCH);
        if columns == 0 || rows == 0 {
            return Grid::new(width, height, walkable);
        }
        // Opens the `dx` by `dy` cells from (x0, y0).
        let open = |walkable: &mut [bool], x0: usize, y0: usize, dx: usize, dy: usize| {
            for y in y0..y0 + dy {
                for x in x0..x0 + dx {
                    walkable[y * w + x] = true;
                }
            }
        };
        // Where maze cell `c`'s corridor square starts.
        let origin = |c: usize| 1 + c * PITCH;
        // Opens maze cell (cx, cy)'s corridor square.
        let open_cell = |walkable: &mut [bool], (cx, cy): (usize, usize)| {
            open(walkable, origin(cx), origin(cy), CORRIDOR, CORRIDOR)
        };
        // Opens the wall between maze cell (cx, cy) and its right (or lower)
        // neighbour.
        let knock = |walkable: &mut [bool], (cx, cy): (usize, usize), right: bool| {
            if right {
                open(walkable, origin(cx) + CORRIDOR, origin(cy), 1, CORRIDOR);
            } else {
                open(walkable, origin(cx), origin(cy) + CORRIDOR, CORRIDOR, 1);
            }
        };
        let mut visited = vec![false; columns * rows];
        let first = (
            rng.below(columns as u64) as usize,
            rng.below(rows as u64) as usize,
        );
        visited[first.1 * columns + first.0] = true;
        open_cell(&mut walkable, first);
        let mut stack = vec![first];
        while let Some(&(cx, cy)) = stack.last() {
            let mut choices = [(0usize, 0usize); 4];
            let mut count = 0;
            for (dx, dy) in [(-1i64, 0i64), (1, 0), (0, -1), (0, 1)] {
                let (nx, ny) = (cx as i64 + dx, cy as i64 + dy);
                if nx < 0 || ny < 0 || nx >= columns as i64 || ny >= rows as i64 {
                    continue;
                }
                let (nx, ny) = (nx as usize, ny as usize);
                if !visited[ny * columns + nx] {
                    choices[count] = (nx, ny);
                    count += 1;
                }
            }
            if count == 0 {
                stack.pop();
                continue;
            }
            let next = choices[rng.below(count as u64) as usize];
            visited[next.1 * columns + next.0] = true;
            open_cell(&mut walkable, next);
            // The wall between the two lies right of (or below) the smaller.
            let right = next.1 == cy;
            knock(&mut walkable, (cx.min(next.0), cy.min(next.1)), right);
            stack.push(next);
        }
        // Loops: knock out some of the walls the walk left standing.
        for cy in 0..rows {
            for cx in 0..columns {
                for right in [true, false] {
                    if (right && cx + 1 == columns) || (!right && cy + 1 == rows) {
                        continue;
                    }
                    if rng.below(9) == 0 {
                        knock(&mut walkable, (cx, cy), right);
                    }
                }
            }
        }
        Grid::new(width, height, walkable)
    }

    /// Rooms joined by doors, in the family of Moving AI's `room` maps: the
    /// map is split again and again by walls 1 cell thick (recursive
    /// division) until the rooms are small enough (from 5 to about 40 cells
    /// across, each room's limit drawn at random), each wall has a door 1 to
    /// 3 cells wide, and one wall in three a second one, so that there are
    /// several ways round. A wall never lands in front of a door.
    pub fn rooms(width: u16, height: u16, seed: u64) -> Grid {
        const MIN_ROOM: usize = 5;
        let (w, h) = (width as usize, height as usize);
        let mut rng = Rng::new(seed);
        let mut walkable = vec![false; w * h];
        if w < 3 || h < 3 {
            return Grid::new(width, height, walkable);
        }
        for y in 1..h - 1 {
            for x in 1..w - 1 {
                walkable[y * w + x] = true;
            }
        }
        // Rooms to split: (x, y, width, height) of their open inside.
        let mut rooms = vec![(1usize, 1usize, w - 2, h - 2)];
        while let Some((x, y, rw, rh)) = rooms.pop() {
            let limit = 10 + rng.below(31) as usize;
            let splittable = |size: usize| size > 2 * MIN_ROOM;
            if rw.max(rh) <= limit || !(splittable(rw) || splittable(rh)) {
                continue;
            }
            // Across the longer side (a vertical wall in a wide room).
            let vertical = if splittable(rw) && splittable(rh) {
                rw > rh || (rw == rh && rng.below(2) == 0)
            } else {
                splittable(rw)
            };
            let (along, across) = if vertical { (rw, rh) } else { (rh, rw) };
            // Where the wall goes, measured from the room's start along
            // `along`: not in front of a door of the walls around the room.
            let in_front_of_door = |offset: usize| {
                let (before, after) = if vertical {
                    ((x + offset, y - 1), (x + offset, y + rh))
                } else {
                    ((x - 1, y + offset), (x + rw, y + offset))
                };
                walkable[before.1 * w + before.0] || walkable[after.1 * w + after.0]
            };
            let candidates: Vec<usize> = (MIN_ROOM..along - MIN_ROOM)
                .filter(|&offset| !in_front_of_door(offset))
                .collect();
            if candidates.is_empty() {
                continue;
            }
            let offset = candidates[rng.below(candidates.len() as u64) as usize];
            let cell = |i: usize| {
                if vertical {
                    (x + offset) + (y + i) * w
                } else {
                    (x + i) + (y + offset) * w
                }
            };
            for i in 0..across {
                walkable[cell(i)] = false;
            }
            let doors = if rng.below(3) == 0 { 2 } else { 1 };
            for _ in 0..doors {
                let size = (1 + rng.below(3) as usize).min(across);
                let start = rng.below((across - size + 1) as u64) as usize;
                for i in start..start + size {
                    walkable[cell(i)] = true;
                }
            }
            if vertical {
                rooms.push((x, y, offset, rh));
                rooms.push((x + offset + 1, y, rw - offset - 1, rh));
            } else {
                rooms.push((x, y, rw, offset));
                rooms.push((x, y + offset + 1, rw, rh - offset - 1));
            }
        }
        Grid::new(width, height, walkable)
    }
}

/// The maps `swarm --write-map KIND FILE` writes: `maze` (257x256, as
/// `assets/maze.map`) and `rooms` (256x256, as `assets/rooms.map`); the
/// shipped files are those of seed 7.
pub fn generated(kind: &str, seed: u64) -> Option<Grid> {
    match kind {
        "maze" => Some(Grid::maze(257, 256, seed)),
        "rooms" => Some(Grid::rooms(256, 256, seed)),
        _ => None,
    }
}
