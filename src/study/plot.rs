//! Three figures per experiment, PNG and SVG: the learning curves (the metric during training, IQM over
//! seeds with a 95% CI band, one colour per method, one panel per x value when the study has other axes),
//! the final scores (IQM with 95% CI whiskers against the x axis, one colour per row of the table) and the
//! performance profiles (per row, the fraction of runs above each score, with its band). A numeric x
//! spanning a decade or more (densities 0.5 … 0.01) is drawn on a log scale, other numbers linearly,
//! labels (modules, methods) as evenly spaced categories; ticks sit at the study's x values only. The
//! legend has a column of its own right of the plots, so it never covers a point or a line, and a
//! method keeps its colour in every panel.
//!
//! Text needs a TrueType font and plotters' `ab_glyph` reads one from a file (no fontconfig, no system
//! library): `SPARSE_RL_FONT` names it, else a few usual system paths are tried. Without one the plots
//! are drawn without text rather than not at all, and study.md's tables still carry every number.

use std::path::Path;
use std::sync::OnceLock;

use anyhow::{anyhow, Context, Result};
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::curves::Curve;
use super::report::{interval, number};
use super::table::Table;

/// A figure of one panel, legend column aside.
const SIZE: (u32, u32) = (900, 560);
/// One panel of a figure of several.
const PANEL: (u32, u32) = (600, 440);
/// The band above several panels that holds the figure's caption.
const CAPTION: u32 = 40;
const FONT: &str = "sans-serif";
const SYSTEM_FONTS: [&str; 5] = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
    "/System/Library/Fonts/Supplemental/Arial.ttf",
];

/// The metric a figure shows: its name and, if bounded, its range.
pub struct Metric<'a> {
    pub name: &'a str,
    pub range: Option<(f64, f64)>,
}

impl Metric<'_> {
    /// The y range for values from `lo` to `hi`: a margin around them, inside the metric's range.
    fn y_range(&self, lo: f64, hi: f64) -> std::ops::Range<f64> {
        let r = padded(lo, hi, 0.08);
        match self.range {
            Some((min, max)) => r.start.max(min)..r.end.min(max),
            None => r,
        }
    }
}

/// What a figure shows: an experiment's final scores, its learning curves, or its performance profiles.
enum Figure<'a> {
    Scores(&'a Table),
    /// The experiment, the study's x axis (which names the panels) and the curves.
    Curves(&'a str, &'a str, &'a [Curve]),
    Profiles(&'a str, &'a [Curve]),
}

impl Figure<'_> {
    /// The names of its rows or lines, each once, in order: the legend's entries, and the order of the
    /// colours.
    fn labels(&self) -> Vec<String> {
        let names: Vec<&str> = match self {
            Figure::Scores(table) => table.rows.iter().map(|r| r.label.as_str()).collect(),
            Figure::Curves(_, _, curves) | Figure::Profiles(_, curves) => {
                curves.iter().map(|c| c.label.as_str()).collect()
            }
        };
        let mut labels: Vec<String> = Vec::new();
        for name in names {
            if !labels.iter().any(|l| l == name) {
                labels.push(name.to_string());
            }
        }
        labels
    }

    /// Its size in pixels: the panels' grid, the caption band above several panels, the legend's column.
    fn size(&self, text: bool) -> (u32, u32) {
        let count = match self {
            Figure::Curves(_, _, curves) => panels(curves).len(),
            Figure::Scores(_) | Figure::Profiles(..) => 1,
        };
        let (width, height) = if count <= 1 {
            SIZE
        } else {
            let (rows, columns) = grid(count);
            let caption = if text { CAPTION } else { 0 };
            (PANEL.0 * columns as u32, PANEL.1 * rows as u32 + caption)
        };
        (width + legend_width(&self.labels(), text), height)
    }
}

/// The curves grouped by panel, in order of first appearance.
fn panels(curves: &[Curve]) -> Vec<(&str, Vec<&Curve>)> {
    let mut out: Vec<(&str, Vec<&Curve>)> = Vec::new();
    for curve in curves {
        match out.iter_mut().find(|(panel, _)| *panel == curve.panel) {
            Some((_, members)) => members.push(curve),
            None => out.push((&curve.panel, vec![curve])),
        }
    }
    out
}

/// Rows and columns of a grid of `count` panels: up to three side by side, more in rows of at most three.
fn grid(count: usize) -> (usize, usize) {
    let columns = if count <= 3 {
        count.max(1)
    } else {
        count.div_ceil(2).min(3)
    };
    (count.div_ceil(columns), columns)
}

/// Writes `<dir>/<experiment>.png` and `.svg`: the final scores.
pub fn write(dir: &Path, table: &Table, metric: &Metric) -> Result<()> {
    render(dir, &table.experiment, &Figure::Scores(table), metric)
}

/// Writes `<dir>/<experiment>_profile.png` and `.svg`: the performance profiles.
pub fn write_profiles(dir: &Path, experiment: &str, profiles: &[Curve], metric: &Metric) -> Result<()> {
    render(
        dir,
        &format!("{experiment}_profile"),
        &Figure::Profiles(experiment, profiles),
        metric,
    )
}

/// Writes `<dir>/<experiment>_curves.png` and `.svg`: the learning curves, one panel per value of the
/// study's `x_axis` among the curves.
pub fn write_curves(
    dir: &Path,
    experiment: &str,
    x_axis: &str,
    curves: &[Curve],
    metric: &Metric,
) -> Result<()> {
    render(
        dir,
        &format!("{experiment}_curves"),
        &Figure::Curves(experiment, x_axis, curves),
        metric,
    )
}

fn render(dir: &Path, name: &str, figure: &Figure, metric: &Metric) -> Result<()> {
    let text = font_registered();
    let size = figure.size(text);
    let png = dir.join(format!("{name}.png"));
    let mut rgb = vec![0u8; 3 * size.0 as usize * size.1 as usize];
    draw_figure(
        BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area(),
        figure,
        metric,
        text,
    )
    .map_err(|e| anyhow!("cannot draw {}: {e}", png.display()))?;
    write_png(&png, &rgb, size).with_context(|| format!("cannot write {}", png.display()))?;
    let svg = dir.join(format!("{name}.svg"));
    draw_figure(
        SVGBackend::new(&svg, size).into_drawing_area(),
        figure,
        metric,
        text,
    )
    .map_err(|e| anyhow!("cannot draw {}: {e}", svg.display()))
}

fn draw_figure<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    figure: &Figure,
    metric: &Metric,
    text: bool,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let labels = figure.labels();
    let legend = legend_width(&labels, text);
    let (plots, side) = root.split_horizontally(root.dim_in_pixel().0 - legend);
    match figure {
        Figure::Scores(table) => draw(&plots, table, metric, text)?,
        Figure::Curves(experiment, x_axis, curves) => {
            // One scale for every panel, so that panels compare by eye.
            let points = || curves.iter().flat_map(|c| &c.points);
            let x_hi = points().map(|p| p.x).fold(0.0, f64::max);
            let lo = points().map(|p| p.lo).fold(f64::INFINITY, f64::min);
            let hi = points().map(|p| p.hi).fold(f64::NEG_INFINITY, f64::max);
            let mut axes = Axes {
                caption: format!("{experiment}: {} during training (IQM, 95% CI)", metric.name),
                x_desc: "training steps (environment steps; for the GAN, iterations)".into(),
                y_desc: metric.name.into(),
                x: 0.0..x_hi.max(1.0) * 1.02,
                y: metric.y_range(lo, hi),
                x_label: steps_label,
            };
            let panels = panels(curves);
            if panels.len() <= 1 {
                let members: Vec<&Curve> = curves.iter().collect();
                draw_lines(&plots, &members, &axes, &labels, text)?;
            } else {
                let area = if text {
                    plots.titled(&axes.caption, (FONT, 22))?
                } else {
                    plots
                };
                for ((panel, members), cell) in panels.iter().zip(area.split_evenly(grid(panels.len()))) {
                    axes.caption = format!("{x_axis} = {panel}");
                    draw_lines(&cell, members, &axes, &labels, text)?;
                }
            }
        }
        Figure::Profiles(experiment, profiles) => {
            let taus = || profiles.iter().flat_map(|c| &c.points).map(|p| p.x);
            let (lo, hi) = (
                taus().fold(f64::INFINITY, f64::min),
                taus().fold(f64::NEG_INFINITY, f64::max),
            );
            let axes = Axes {
                caption: format!("{experiment}: performance profile (95% CI)"),
                x_desc: format!("{} threshold τ", metric.name),
                y_desc: "fraction of runs above τ".into(),
                x: padded(lo, hi, 0.02),
                y: -0.02..1.02,
                x_label: number,
            };
            let members: Vec<&Curve> = profiles.iter().collect();
            draw_lines(&plots, &members, &axes, &labels, text)?;
        }
    }
    if legend > 0 {
        let marker = match figure {
            Figure::Scores(_) => Marker::Dot,
            Figure::Curves(..) | Figure::Profiles(..) => Marker::Line,
        };
        draw_legend(&side, &labels, marker)?;
    }
    root.present()?;
    Ok(())
}

/// Encodes an RGB8 buffer of `size`.
fn write_png(path: &Path, rgb: &[u8], size: (u32, u32)) -> Result<()> {
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut encoder = png::Encoder::new(file, size.0, size.1);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    // Figures are committed with a study's results: the smaller file is worth the slower encoding.
    encoder.set_compression(png::Compression::Best);
    encoder.set_adaptive_filter(png::AdaptiveFilterType::Adaptive);
    let mut writer = encoder.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(())
}

/// Registers the first readable font once per process; whether text can be drawn.
fn font_registered() -> bool {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    *REGISTERED.get_or_init(|| {
        let candidates: Vec<String> = match std::env::var("SPARSE_RL_FONT") {
            Ok(path) => vec![path],
            Err(_) => SYSTEM_FONTS.iter().map(|s| s.to_string()).collect(),
        };
        candidates.iter().any(|path| {
            std::fs::read(path).is_ok_and(|bytes| {
                // plotters keeps fonts for the whole process; this one is read once and lives as long.
                let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
                plotters::style::register_font(FONT, FontStyle::Normal, bytes).is_ok()
            })
        })
    })
}

/// The legend column's width in pixels: room for the widest label beside its marker, or nothing when
/// there is no text or no named row (a study with only the x axis has one unnamed row, and its legend
/// would be an empty box).
fn legend_width(labels: &[String], text: bool) -> u32 {
    if !text || labels.iter().all(String::is_empty) {
        return 0;
    }
    let font = (FONT, LEGEND_FONT).into_font();
    let widest = labels
        .iter()
        .map(|l| font.box_size(l).map_or(0, |(w, _)| w))
        .max()
        .unwrap_or(0);
    widest + LEGEND_TEXT_X as u32 + 24
}

const LEGEND_FONT: u32 = 14;
/// Where a legend entry's label starts, right of its marker.
const LEGEND_TEXT_X: i32 = 34;
/// The height of one legend entry.
const LEGEND_LINE: i32 = 20;

/// How a legend entry shows its colour: a dot (final scores) or a line (curves).
#[derive(Clone, Copy)]
enum Marker {
    Dot,
    Line,
}

/// The legend in its own column: per label, a marker in the label's colour, in a box level with the top
/// of the plot.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    labels: &[String],
    marker: Marker,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let style = TextStyle::from((FONT, LEGEND_FONT).into_font()).pos(Pos::new(HPos::Left, VPos::Center));
    let top = 56;
    let bottom = top + LEGEND_LINE * labels.len() as i32 + 10;
    let right = area.dim_in_pixel().0 as i32 - 12;
    area.draw(&Rectangle::new([(0, top), (right, bottom)], BLACK))?;
    for (i, label) in labels.iter().enumerate() {
        let y = top + 5 + LEGEND_LINE * i as i32 + LEGEND_LINE / 2;
        let color = colour(i);
        match marker {
            Marker::Dot => area.draw(&Circle::new((17, y), 4, color.filled()))?,
            Marker::Line => area.draw(&PathElement::new(vec![(7, y), (27, y)], color.stroke_width(2)))?,
        }
        area.draw(&Text::new(label.as_str(), (LEGEND_TEXT_X, y), style.clone()))?;
    }
    Ok(())
}

/// The colour of the `i`-th label of a figure.
fn colour(i: usize) -> RGBAColor {
    Palette99::pick(i).to_rgba()
}

/// Where each column sits on the x axis, and whether that axis is logarithmic.
fn positions(columns: &[String]) -> (Vec<f64>, bool) {
    let numbers: Option<Vec<f64>> = columns.iter().map(|c| c.parse::<f64>().ok()).collect();
    match numbers {
        Some(xs) if xs.iter().all(|&x| x > 0.0) && max(&xs) / min(&xs) >= 10.0 => {
            (xs.iter().map(|x| x.log10()).collect(), true)
        }
        Some(xs) => (xs, false),
        None => ((0..columns.len()).map(|i| i as f64).collect(), false),
    }
}

fn min(xs: &[f64]) -> f64 {
    xs.iter().copied().fold(f64::INFINITY, f64::min)
}

fn max(xs: &[f64]) -> f64 {
    xs.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

/// A linear x axis whose ticks are exactly the study's x values (plotters' own `with_key_points` cannot
/// take a label formatter).
struct StudyAxis {
    range: std::ops::Range<f64>,
    ticks: Vec<f64>,
}

impl Ranged for StudyAxis {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, v: &f64, pixels: (i32, i32)) -> i32 {
        let fraction = (v - self.range.start) / (self.range.end - self.range.start);
        pixels.0 + (fraction * f64::from(pixels.1 - pixels.0)).round() as i32
    }

    fn key_points<Hint: KeyPointHint>(&self, hint: Hint) -> Vec<f64> {
        if hint.max_num_points() == 0 {
            Vec::new()
        } else {
            self.ticks.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.range.clone()
    }
}

/// A range around `lo..hi` with a margin, never empty.
fn padded(lo: f64, hi: f64, fraction: f64) -> std::ops::Range<f64> {
    let span = if hi > lo { hi - lo } else { lo.abs().max(1.0) };
    (lo - fraction * span)..(hi + fraction * span)
}

/// The final scores: per cell the IQM over seeds with its 95% bootstrap CI as a whisker. Numeric x values
/// (densities) are joined by lines; categories (variants, modules) are points only. Each row is shifted
/// a little beside its x value (a quarter of the gap between x values shared by the rows, half of it for
/// categories) so that whiskers at one x value do not cover each other.
fn draw<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    table: &Table,
    metric: &Metric,
    text: bool,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let (xs, log) = positions(&table.columns);
    let categorical = table.columns.iter().any(|c| c.parse::<f64>().is_err());
    let rows = table.rows.len().max(1);
    let spacing = if xs.len() > 1 {
        (max(&xs) - min(&xs)) / (xs.len() - 1) as f64
    } else {
        1.0
    };
    let band = if categorical { 0.5 } else { 0.25 };
    let dodge = |i: usize| (i as f64 - (rows - 1) as f64 / 2.0) * band * spacing / rows as f64;
    let series: Vec<Vec<(f64, f64, f64, f64)>> = table
        .rows
        .iter()
        .enumerate()
        .map(|(i, r)| {
            r.cells
                .iter()
                .zip(&xs)
                .filter(|(c, _)| !c.values.is_empty())
                .map(|(c, &x)| {
                    let (centre, lo, hi) = interval(&c.values);
                    (x + dodge(i), centre, lo, hi)
                })
                .collect()
        })
        .collect();
    let all = || series.iter().flatten();
    let y_range = if all().next().is_none() {
        0.0..1.0
    } else {
        let lo = all().map(|p| p.2).fold(f64::INFINITY, f64::min);
        let hi = all().map(|p| p.3).fold(f64::NEG_INFINITY, f64::max);
        metric.y_range(lo, hi)
    };
    let x_range = if xs.is_empty() {
        -1.0..1.0
    } else if categorical {
        // Half a category of room on each side.
        (min(&xs) - 0.5 * spacing)..(max(&xs) + 0.5 * spacing)
    } else {
        // Room for the shifted rows and a margin.
        (min(&xs) - 0.2 * spacing)..(max(&xs) + 0.2 * spacing)
    };

    let mut builder = ChartBuilder::on(area);
    builder.margin(16).x_label_area_size(44).y_label_area_size(64);
    if text {
        builder.caption(
            format!("{}: {} (IQM, 95% CI)", table.experiment, metric.name),
            (FONT, 22),
        );
    }
    let cap = 0.01 * (x_range.end - x_range.start);
    let x_axis = StudyAxis {
        range: x_range,
        ticks: xs.clone(),
    };
    let mut chart = builder.build_cartesian_2d(x_axis, y_range)?;
    let label_of = |p: &f64| {
        xs.iter()
            .position(|x| (x - p).abs() < 1e-9)
            .map_or_else(String::new, |i| table.columns[i].clone())
    };
    let y_label_of = |y: &f64| number(*y);
    let mut mesh = chart.configure_mesh();
    mesh.disable_x_mesh()
        .x_label_formatter(&label_of)
        .y_label_formatter(&y_label_of);
    if text {
        let x_desc = if log {
            format!("{} (log scale)", table.x_axis)
        } else {
            table.x_axis.clone()
        };
        mesh.x_desc(x_desc)
            .y_desc(metric.name)
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 16));
    } else {
        mesh.x_labels(0).y_labels(0);
    }
    mesh.draw()?;

    for (i, points) in series.iter().enumerate() {
        let color = colour(i);
        if !categorical {
            chart.draw_series(LineSeries::new(
                points.iter().map(|p| (p.0, p.1)),
                color.stroke_width(2),
            ))?;
        }
        chart.draw_series(points.iter().map(|p| Circle::new((p.0, p.1), 4, color.filled())))?;
        // The CI as an I-beam: one path per point.
        chart.draw_series(points.iter().filter(|p| p.3 > p.2).map(|&(x, _, lo, hi)| {
            let path = vec![
                (x - cap, lo),
                (x + cap, lo),
                (x, lo),
                (x, hi),
                (x - cap, hi),
                (x + cap, hi),
            ];
            PathElement::new(path, color.stroke_width(2))
        }))?;
    }
    Ok(())
}

/// The axes of a figure of lines: caption, axis descriptions, ranges and the x ticks' labels.
struct Axes {
    caption: String,
    x_desc: String,
    y_desc: String,
    x: std::ops::Range<f64>,
    y: std::ops::Range<f64>,
    x_label: fn(f64) -> String,
}

/// Lines with shaded bands, each in its label's colour among `labels` (learning curves: the IQM over
/// seeds at each evaluation and its 95% CI; profiles: the fraction of runs above each threshold and its
/// band); empty axes for no line.
fn draw_lines<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    curves: &[&Curve],
    axes: &Axes,
    labels: &[String],
    text: bool,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    let empty = curves.iter().all(|c| c.points.is_empty());
    let (x_range, y_range) = if empty {
        (0.0..1.0, 0.0..1.0)
    } else {
        (axes.x.clone(), axes.y.clone())
    };
    let mut builder = ChartBuilder::on(area);
    builder.margin(16).x_label_area_size(44).y_label_area_size(64);
    if text {
        builder.caption(&axes.caption, (FONT, 22));
    }
    let mut chart = builder.build_cartesian_2d(x_range, y_range)?;
    let x_label_of = |x: &f64| (axes.x_label)(*x);
    let y_label_of = |y: &f64| number(*y);
    let mut mesh = chart.configure_mesh();
    mesh.x_label_formatter(&x_label_of).y_label_formatter(&y_label_of);
    if text {
        mesh.x_desc(&axes.x_desc)
            .y_desc(&axes.y_desc)
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 16));
    } else {
        mesh.x_labels(0).y_labels(0);
    }
    mesh.draw()?;
    for curve in curves {
        let color = colour(labels.iter().position(|l| *l == curve.label).unwrap_or(0));
        let band: Vec<(f64, f64)> = curve
            .points
            .iter()
            .map(|p| (p.x, p.hi))
            .chain(curve.points.iter().rev().map(|p| (p.x, p.lo)))
            .collect();
        chart.draw_series(std::iter::once(Polygon::new(band, color.mix(0.2).filled())))?;
        chart.draw_series(LineSeries::new(
            curve.points.iter().map(|p| (p.x, p.iqm)),
            color.stroke_width(2),
        ))?;
    }
    Ok(())
}

/// `250k`, `1.5M`: env-step ticks.
fn steps_label(x: f64) -> String {
    let short = |v: f64| {
        let text = format!("{v:.2}");
        text.trim_end_matches('0').trim_end_matches('.').to_string()
    };
    match x {
        x if x >= 1e6 => format!("{}M", short(x / 1e6)),
        x if x >= 1e3 => format!("{}k", short(x / 1e3)),
        x => format!("{x:.0}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_named_rows_get_a_legend_and_it_fits_the_widest_label() {
        let labels = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let named = labels(&["rigl", "reciprocal-sensitivity"]);
        assert_eq!(legend_width(&named, false), 0);
        assert_eq!(legend_width(&labels(&[""]), true), 0);
        assert_eq!(legend_width(&[], true), 0);
        if font_registered() {
            let short = legend_width(&labels(&["rigl"]), true);
            assert!(short > LEGEND_TEXT_X as u32 && legend_width(&named, true) > short + 50);
        }
    }

    #[test]
    fn curves_share_a_panel_per_x_value_and_keep_their_label_order() {
        let curve = |label: &str, panel: &str| Curve {
            label: label.into(),
            panel: panel.into(),
            points: Vec::new(),
        };
        let curves = [
            curve("set", "0.1"),
            curve("rigl", "0.1"),
            curve("rigl", "0.02"),
            curve("set", "0.02"),
        ];
        let figure = Figure::Curves("e", "density", &curves);
        let panels = panels(&curves);
        assert_eq!(panels.iter().map(|p| p.0).collect::<Vec<_>>(), ["0.1", "0.02"]);
        assert_eq!(panels[1].1[0].label, "rigl");
        // Colours follow the first appearance: `set` is the first colour in both panels.
        assert_eq!(figure.labels(), ["set", "rigl"]);
        let (w, h) = figure.size(false);
        assert_eq!((w, h), (2 * PANEL.0, PANEL.1));
        let one = [curve("0.1", ""), curve("0.02", "")];
        assert_eq!(Figure::Curves("e", "density", &one).size(false), SIZE);
    }

    #[test]
    fn panels_sit_at_most_three_to_a_row() {
        assert_eq!(grid(1), (1, 1));
        assert_eq!(grid(3), (1, 3));
        assert_eq!(grid(4), (2, 2));
        assert_eq!(grid(5), (2, 3));
        assert_eq!(grid(7), (3, 3));
    }

    #[test]
    fn step_ticks_are_short() {
        assert_eq!(steps_label(200_000.0), "200k");
        assert_eq!(steps_label(1_400_000.0), "1.4M");
        assert_eq!(steps_label(2_000_000.0), "2M");
        assert_eq!(steps_label(500.0), "500");
    }

    #[test]
    fn a_bounded_metric_keeps_the_y_axis_inside_its_range() {
        let bounded = Metric {
            name: "eval.win_rate",
            range: Some((0.0, 1.0)),
        };
        assert_eq!(bounded.y_range(0.0, 1.0), 0.0..1.0);
        let r = bounded.y_range(0.2, 0.6);
        assert!(r.start > 0.0 && r.start < 0.2 && r.end > 0.6 && r.end < 1.0);
        let free = Metric {
            name: "r",
            range: None,
        };
        assert!(free.y_range(0.0, 1.0).start < 0.0);
    }

    #[test]
    fn densities_go_on_a_log_axis_and_names_on_categories() {
        let cols = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let (xs, log) = positions(&cols(&["0.5", "0.05"]));
        assert!(log && (xs[0] - 0.5f64.log10()).abs() < 1e-12);
        assert_eq!(positions(&cols(&["1", "2"])), (vec![1.0, 2.0], false));
        assert_eq!(positions(&cols(&["critic", "actor"])), (vec![0.0, 1.0], false));
    }
}
