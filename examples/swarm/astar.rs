//! A* on an 8-connected grid with octile distances and no corner cutting.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use crate::map::{Cell, Grid};

const STRAIGHT: u32 = 100;
const DIAGONAL: u32 = 141;

fn octile((ax, ay): Cell, (bx, by): Cell) -> u32 {
    let dx = (ax as i32 - bx as i32).unsigned_abs();
    let dy = (ay as i32 - by as i32).unsigned_abs();
    STRAIGHT * dx.max(dy) + (DIAGONAL - STRAIGHT) * dx.min(dy)
}

/// The shortest path from `start` to `goal` (both included), or `None` when the
/// goal cannot be reached.
pub fn find_path(grid: &Grid, start: Cell, goal: Cell) -> Option<Vec<Cell>> {
    if !grid.walkable(start) || !grid.walkable(goal) {
        return None;
    }
    let width = grid.width as usize;
    let index = |(x, y): Cell| y as usize * width + x as usize;
    let mut cost = vec![u32::MAX; width * grid.height as usize];
    let mut came_from = vec![u32::MAX; cost.len()];
    let mut open = BinaryHeap::new();
    cost[index(start)] = 0;
    open.push(Reverse((octile(start, goal), 0u32, start)));
    while let Some(Reverse((_, g, cell))) = open.pop() {
        if cell == goal {
            let mut path = vec![goal];
            let mut at = index(goal);
            while at != index(start) {
                at = came_from[at] as usize;
                path.push(((at % width) as u16, (at / width) as u16));
            }
            path.reverse();
            return Some(path);
        }
        if g > cost[index(cell)] {
            continue; // a stale entry
        }
        for (dx, dy) in [
            (-1, 0),
            (1, 0),
            (0, -1),
            (0, 1),
            (-1, -1),
            (1, -1),
            (-1, 1),
            (1, 1),
        ] {
            let (nx, ny) = (cell.0 as i32 + dx, cell.1 as i32 + dy);
            if nx < 0 || ny < 0 {
                continue;
            }
            let next = (nx as u16, ny as u16);
            let diagonal = dx != 0 && dy != 0;
            // No squeezing between two blocked corners.
            if !grid.walkable(next)
                || (diagonal
                    && (!grid.walkable((next.0, cell.1)) || !grid.walkable((cell.0, next.1))))
            {
                continue;
            }
            let g_next = g + if diagonal { DIAGONAL } else { STRAIGHT };
            if g_next < cost[index(next)] {
                cost[index(next)] = g_next;
                came_from[index(next)] = index(cell) as u32;
                open.push(Reverse((g_next + octile(next, goal), g_next, next)));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn goes_around_a_wall() {
        let grid = Grid::parse("type octile\nheight 3\nwidth 3\nmap\n.@.\n.@.\n...\n").unwrap();
        let path = find_path(&grid, (0, 0), (2, 0)).unwrap();
        assert_eq!(path.first(), Some(&(0, 0)));
        assert_eq!(path.last(), Some(&(2, 0)));
        assert!(path.iter().all(|&cell| grid.walkable(cell)));
        // Around the wall's end: no diagonal squeezes past its corners.
        assert_eq!(
            path,
            [(0, 0), (0, 1), (0, 2), (1, 2), (2, 2), (2, 1), (2, 0)]
        );
    }

    #[test]
    fn reports_an_unreachable_goal() {
        let grid = Grid::parse("type octile\nheight 1\nwidth 4\nmap\n.@..\n").unwrap();
        assert_eq!(find_path(&grid, (0, 0), (2, 0)), None);
    }
}
