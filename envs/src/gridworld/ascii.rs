//! The ASCII picture shared by the gridworlds: a `#` frame around rows of one character per cell.

/// A blank picture of `rows` x `cols` cells (`.`), to be filled with [`Canvas::put`] and framed by
/// [`Canvas::finish`].
pub(crate) struct Canvas {
    cols: usize,
    cells: Vec<u8>,
}

impl Canvas {
    pub(crate) fn new(rows: usize, cols: usize) -> Self {
        Self {
            cols,
            cells: vec![b'.'; rows * cols],
        }
    }

    /// Draws `c` at (row, col); a cell drawn twice shows `+` (two things share it).
    pub(crate) fn put(&mut self, row: usize, col: usize, c: u8) {
        let cell = &mut self.cells[row * self.cols + col];
        *cell = if *cell == b'.' { c } else { b'+' };
    }

    /// The framed grid, one line per row, followed by `legend` lines.
    pub(crate) fn finish(&self, legend: &[String]) -> String {
        let border = "#".repeat(self.cols + 2);
        let mut out = String::with_capacity((self.cols + 3) * (self.cells.len() / self.cols.max(1) + 2));
        out.push_str(&border);
        out.push('\n');
        for row in self.cells.chunks(self.cols.max(1)) {
            out.push('#');
            out.extend(row.iter().map(|&b| b as char));
            out.push_str("#\n");
        }
        out.push_str(&border);
        out.push('\n');
        for line in legend {
            out.push_str(line);
            out.push('\n');
        }
        out
    }
}

/// The digit of a level (1..=9), `*` above nine.
pub(crate) fn level_char(level: u32) -> u8 {
    match level {
        0..=9 => b'0' + level as u8,
        _ => b'*',
    }
}
