//! The grid the agents walk on, loaded from a Moving AI `.map` file (or
//! generated from a seed: `mapgen`).

use std::fmt;

use crate::rng::Rng;

/// A cell position: (x, y).
pub type Cell = (u16, u16);

/// A walkable/blocked grid.
#[derive(Clone)]
pub struct Grid {
    pub width: u16,
    pub height: u16,
    walkable: Vec<bool>,
    /// The cells of the largest 4-connected walkable region: agents start and
    /// aim there, so every goal is reachable.
    region: Vec<Cell>,
}

impl Grid {
    pub(crate) fn new(width: u16, height: u16, walkable: Vec<bool>) -> Grid {
        let mut grid = Grid {
            width,
            height,
            walkable,
            region: Vec::new(),
        };
        grid.region = grid.largest_region();
        grid
    }

    /// Flood-fills every walkable region and keeps the largest.
    fn largest_region(&self) -> Vec<Cell> {
        let mut seen = vec![false; self.walkable.len()];
        let mut best = Vec::new();
        for start in 0..self.walkable.len() {
            if seen[start] || !self.walkable[start] {
                continue;
            }
            seen[start] = true;
            let mut region = Vec::new();
            let mut stack = vec![start];
            while let Some(at) = stack.pop() {
                let cell = (
                    (at % self.width as usize) as u16,
                    (at / self.width as usize) as u16,
                );
                region.push(cell);
                let (x, y) = (cell.0 as i32, cell.1 as i32);
                for (nx, ny) in [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)] {
                    if nx < 0 || ny < 0 || !self.walkable((nx as u16, ny as u16)) {
                        continue;
                    }
                    let next = ny as usize * self.width as usize + nx as usize;
                    if !seen[next] {
                        seen[next] = true;
                        stack.push(next);
                    }
                }
            }
            if region.len() > best.len() {
                best = region;
            }
        }
        best
    }

    /// Walkable cells agents can use (the largest region).
    pub fn usable_cells(&self) -> usize {
        self.region.len()
    }

    pub fn walkable(&self, (x, y): Cell) -> bool {
        x < self.width
            && y < self.height
            && self.walkable[y as usize * self.width as usize + x as usize]
    }

    /// A random cell of the largest walkable region.
    pub fn random_cell(&self, rng: &mut Rng) -> Cell {
        self.region[rng.below(self.region.len() as u64) as usize]
    }

    /// The grid as a Moving AI `.map` file (`.` walkable, `@` blocked), which
    /// [`Grid::parse`] reads back.
    pub fn to_map_text(&self) -> String {
        let mut text = format!(
            "type octile\nheight {}\nwidth {}\nmap\n",
            self.height, self.width
        );
        for row in self.walkable.chunks(self.width as usize) {
            text.extend(row.iter().map(|&open| if open { '.' } else { '@' }));
            text.push('\n');
        }
        text
    }

    /// Parses the Moving AI `.map` format: a header (`type octile`, `height H`,
    /// `width W`, `map`) then H rows of W cells; `.`, `G` and `S` are walkable,
    /// `@`, `O`, `T` and `W` are not.
    pub fn parse(text: &str) -> Result<Grid, MapError> {
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(i, line)| (i + 1, line.trim_end_matches('\r')));
        let mut next = |what: &str| {
            lines
                .next()
                .ok_or_else(|| MapError::new(0, format!("file ends before {what}")))
        };
        let (line, text) = next("the `type` line")?;
        if text.trim() != "type octile" {
            return Err(MapError::new(
                line,
                format!("expected `type octile`, found `{text}`"),
            ));
        }
        let height = header_number(next("the `height` line")?, "height")?;
        let width = header_number(next("the `width` line")?, "width")?;
        let (line, text) = next("the `map` line")?;
        if text.trim() != "map" {
            return Err(MapError::new(
                line,
                format!("expected `map`, found `{text}`"),
            ));
        }
        let mut walkable = Vec::with_capacity(width as usize * height as usize);
        for row in 0..height {
            let (line, text) = next(&format!("row {} of {height}", row + 1))?;
            if text.chars().count() != width as usize {
                return Err(MapError::new(
                    line,
                    format!("expected {width} cells, found {}", text.chars().count()),
                ));
            }
            for c in text.chars() {
                walkable.push(match c {
                    '.' | 'G' | 'S' => true,
                    '@' | 'O' | 'T' | 'W' => false,
                    other => return Err(MapError::new(line, format!("unknown cell `{other}`"))),
                });
            }
        }
        let grid = Grid::new(width, height, walkable);
        if grid.region.len() < 2 {
            return Err(MapError::new(
                0,
                "the map has fewer than two connected walkable cells".into(),
            ));
        }
        Ok(grid)
    }
}

fn header_number((line, text): (usize, &str), key: &str) -> Result<u16, MapError> {
    let value = text
        .strip_prefix(key)
        .map(str::trim)
        .ok_or_else(|| MapError::new(line, format!("expected `{key} N`, found `{text}`")))?;
    match value.parse::<u16>() {
        Ok(n) if n > 0 => Ok(n),
        _ => Err(MapError::new(
            line,
            format!("`{key}` must be a number from 1 to 65535, found `{value}`"),
        )),
    }
}

/// What is wrong with a map file, and on which line (0: the file as a whole).
#[derive(Debug)]
pub struct MapError {
    line: usize,
    message: String,
}

impl MapError {
    fn new(line: usize, message: String) -> Self {
        MapError { line, message }
    }
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}", self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_small_map() {
        let grid = Grid::parse("type octile\nheight 2\nwidth 3\nmap\n.@G\nTS.\n").unwrap();
        assert_eq!((grid.width, grid.height), (3, 2));
        assert!(grid.walkable((0, 0)) && !grid.walkable((1, 0)) && grid.walkable((2, 0)));
        assert!(!grid.walkable((0, 1)) && grid.walkable((1, 1)));
    }

    #[test]
    fn loads_the_shipped_arena() {
        let grid = Grid::parse(include_str!("../../assets/arena.map")).unwrap();
        assert_eq!((grid.width, grid.height), (96, 96));
        assert!(grid.usable_cells() > 96 * 96 / 2);
    }

    #[test]
    fn errors_name_the_line() {
        let error = |text: &str| Grid::parse(text).err().unwrap().to_string();
        assert_eq!(
            error("type grid\n"),
            "line 1: expected `type octile`, found `type grid`"
        );
        assert_eq!(
            error("type octile\nheight x\n"),
            "line 2: `height` must be a number from 1 to 65535, found `x`"
        );
        assert_eq!(
            error("type octile\nheight 2\nwidth 2\nmap\n..\n.\n"),
            "line 6: expected 2 cells, found 1"
        );
        assert_eq!(
            error("type octile\nheight 1\nwidth 2\nmap\n.?\n"),
            "line 5: unknown cell `?`"
        );
        assert_eq!(
            error("type octile\nheight 2\nwidth 1\nmap\n.\n"),
            "file ends before row 2 of 2"
        );
    }
}
