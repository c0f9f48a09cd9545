//! Label placement without overlaps: each label tries its candidate positions in order and takes
//! the first one inside the bounds that collides with nothing placed before it.

/// A pixel rectangle, `x0 <= x1`, `y0 <= y1`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rect {
    pub x0: i32,
    pub y0: i32,
    pub x1: i32,
    pub y1: i32,
}

impl Rect {
    /// A `w`×`h` box whose top edge is centred on `(cx, top)`.
    pub fn centered_top(cx: i32, top: i32, w: i32, h: i32) -> Rect {
        Rect {
            x0: cx - w / 2,
            y0: top,
            x1: cx - w / 2 + w,
            y1: top + h,
        }
    }

    fn overlaps(&self, o: &Rect) -> bool {
        self.x0 < o.x1 && o.x0 < self.x1 && self.y0 < o.y1 && o.y0 < self.y1
    }

    /// Shifted horizontally to lie within `[lo, hi]` where it fits.
    fn clamp_x(self, lo: i32, hi: i32) -> Rect {
        let w = self.x1 - self.x0;
        let x0 = self.x0.min(hi - w).max(lo);
        Rect {
            x0,
            x1: x0 + w,
            ..self
        }
    }
}

/// Places labels inside `bounds`, remembering what it placed.
pub struct Placer {
    bounds: Rect,
    taken: Vec<Rect>,
}

impl Placer {
    pub fn new(bounds: Rect) -> Placer {
        Placer {
            bounds,
            taken: Vec::new(),
        }
    }

    /// Marks an area (a legend, another label) as occupied.
    pub fn reserve(&mut self, r: Rect) {
        self.taken.push(r);
    }

    /// The first candidate (moved sideways into the bounds) that is free, now taken; `None` when
    /// every candidate collides, in which case the caller leaves the label out.
    pub fn place(&mut self, candidates: impl IntoIterator<Item = Rect>) -> Option<Rect> {
        let b = self.bounds;
        for c in candidates {
            let c = c.clamp_x(b.x0, b.x1);
            let inside = c.y0 >= b.y0 && c.y1 <= b.y1 && c.x0 >= b.x0 && c.x1 <= b.x1;
            if inside && !self.taken.iter().any(|t| t.overlaps(&c)) {
                self.taken.push(c);
                return Some(c);
            }
        }
        None
    }
}

/// Candidate boxes stacked in rows from `first_top` moving by `step` pixels per row.
pub fn rows(
    cx: i32,
    first_top: i32,
    step: i32,
    w: i32,
    h: i32,
    count: i32,
) -> impl Iterator<Item = Rect> {
    (0..count).map(move |i| Rect::centered_top(cx, first_top + i * step, w, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlapping_labels_move_to_the_next_row() {
        let mut p = Placer::new(Rect {
            x0: 0,
            y0: 0,
            x1: 400,
            y1: 300,
        });
        let a = p.place(rows(100, 10, 20, 80, 16, 3)).unwrap();
        let b = p.place(rows(120, 10, 20, 80, 16, 3)).unwrap();
        let c = p.place(rows(300, 10, 20, 80, 16, 3)).unwrap();
        assert_eq!(a.y0, 10);
        assert_eq!(
            b.y0, 30,
            "second label collides with the first and drops a row"
        );
        assert_eq!(c.y0, 10, "a distant label keeps the first row");
        assert!(
            p.place(rows(100, 10, 20, 80, 16, 2)).is_none(),
            "both rows taken near x=100"
        );
    }

    #[test]
    fn labels_are_pushed_inside_the_bounds() {
        let mut p = Placer::new(Rect {
            x0: 50,
            y0: 0,
            x1: 400,
            y1: 300,
        });
        let r = p.place(rows(55, 0, 20, 100, 16, 1)).unwrap();
        assert_eq!(r.x0, 50);
        let r = p.place(rows(399, 0, 20, 100, 16, 1)).unwrap();
        assert_eq!(r.x1, 400);
        assert!(
            p.place(rows(200, 290, 20, 100, 16, 1)).is_none(),
            "falls off the bottom"
        );
    }
}
