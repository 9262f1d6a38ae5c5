//! Three figures per experiment, PNG and SVG: the learning curves (the metric during training, IQM over
//! seeds with a 95% CI band, one colour per method), the final scores (IQM with 95% CI whiskers against the
//! x axis, one colour per row of the table) and the performance profiles (per row, the fraction of runs
//! above each score, with its band). A numeric x spanning a decade or more (densities 0.5 … 0.01) is drawn on a log
//! scale, other numbers linearly, labels (modules, methods) as evenly spaced categories; ticks sit at the
//! study's x values only.
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

use super::curves::Curve;
use super::report::{interval, number};
use super::table::Table;

const SIZE: (u32, u32) = (900, 560);
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
    Curves(&'a str, &'a [Curve]),
    Profiles(&'a str, &'a [Curve]),
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

/// Writes `<dir>/<experiment>_curves.png` and `.svg`: the learning curves.
pub fn write_curves(dir: &Path, experiment: &str, curves: &[Curve], metric: &Metric) -> Result<()> {
    render(
        dir,
        &format!("{experiment}_curves"),
        &Figure::Curves(experiment, curves),
        metric,
    )
}

fn render(dir: &Path, name: &str, figure: &Figure, metric: &Metric) -> Result<()> {
    let text = font_registered();
    let png = dir.join(format!("{name}.png"));
    let mut rgb = vec![0u8; 3 * SIZE.0 as usize * SIZE.1 as usize];
    draw_figure(
        BitMapBackend::with_buffer(&mut rgb, SIZE).into_drawing_area(),
        figure,
        metric,
        text,
    )
    .map_err(|e| anyhow!("cannot draw {}: {e}", png.display()))?;
    write_png(&png, &rgb).with_context(|| format!("cannot write {}", png.display()))?;
    let svg = dir.join(format!("{name}.svg"));
    draw_figure(
        SVGBackend::new(&svg, SIZE).into_drawing_area(),
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
    match figure {
        Figure::Scores(table) => draw(root, table, metric, text),
        Figure::Curves(experiment, curves) => {
            let points = || curves.iter().flat_map(|c| &c.points);
            let x_hi = points().map(|p| p.x).fold(0.0, f64::max);
            let lo = points().map(|p| p.lo).fold(f64::INFINITY, f64::min);
            let hi = points().map(|p| p.hi).fold(f64::NEG_INFINITY, f64::max);
            let axes = Axes {
                caption: format!("{experiment}: {} during training (IQM, 95% CI)", metric.name),
                x_desc: "training steps (environment steps; for the GAN, iterations)".into(),
                y_desc: metric.name.into(),
                x: 0.0..x_hi.max(1.0) * 1.02,
                y: metric.y_range(lo, hi),
                x_label: steps_label,
            };
            draw_lines(root, curves, &axes, text)
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
            draw_lines(root, profiles, &axes, text)
        }
    }
}

/// Encodes an RGB8 buffer of [`SIZE`].
fn write_png(path: &Path, rgb: &[u8]) -> Result<()> {
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut encoder = png::Encoder::new(file, SIZE.0, SIZE.1);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
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

/// A legend names the rows; a study with only the x axis has one unnamed row, and its legend would be an
/// empty box.
fn has_legend(table: &Table) -> bool {
    table.rows.iter().any(|row| !row.label.is_empty())
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
/// (densities) are joined by lines; categories (variants, modules) are points only, each row shifted a
/// little so that whiskers at one category do not cover each other.
fn draw<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    table: &Table,
    metric: &Metric,
    text: bool,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let legend = text && has_legend(table);
    let (xs, log) = positions(&table.columns);
    let categorical = table.columns.iter().any(|c| c.parse::<f64>().is_err());
    let rows = table.rows.len().max(1);
    let spacing = if xs.len() > 1 {
        (max(&xs) - min(&xs)) / (xs.len() - 1) as f64
    } else {
        1.0
    };
    let dodge = |i: usize| {
        if categorical {
            (i as f64 - (rows - 1) as f64 / 2.0) * 0.5 * spacing / rows as f64
        } else {
            0.0
        }
    };
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
        // Half a category of room on each side, and on the left the legend's width as well.
        let left = if legend { 0.9 } else { 0.5 };
        (min(&xs) - left * spacing)..(max(&xs) + 0.5 * spacing)
    } else {
        padded(min(&xs), max(&xs), 0.08)
    };

    let mut builder = ChartBuilder::on(&root);
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

    for (i, (row, points)) in table.rows.iter().zip(&series).enumerate() {
        let color = Palette99::pick(i).to_rgba();
        if !categorical {
            chart.draw_series(LineSeries::new(
                points.iter().map(|p| (p.0, p.1)),
                color.stroke_width(2),
            ))?;
        }
        let dots = chart.draw_series(points.iter().map(|p| Circle::new((p.0, p.1), 4, color.filled())))?;
        if legend {
            dots.label(&row.label)
                .legend(move |(x, y)| Circle::new((x + 10, y), 4, color.filled()));
        }
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
    if legend {
        draw_legend(&mut chart)?;
    }
    root.present()?;
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

/// Lines with shaded bands, one colour per line (learning curves: the IQM over seeds at each evaluation
/// and its 95% CI; profiles: the fraction of runs above each threshold and its band); a legend when
/// there is more than one line; empty axes for no line.
fn draw_lines<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    curves: &[Curve],
    axes: &Axes,
    text: bool,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let legend = text && curves.len() > 1;
    let empty = curves.iter().all(|c| c.points.is_empty());
    let (x_range, y_range) = if empty {
        (0.0..1.0, 0.0..1.0)
    } else {
        (axes.x.clone(), axes.y.clone())
    };
    let mut builder = ChartBuilder::on(&root);
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
    for (i, curve) in curves.iter().enumerate() {
        let color = Palette99::pick(i).to_rgba();
        let band: Vec<(f64, f64)> = curve
            .points
            .iter()
            .map(|p| (p.x, p.hi))
            .chain(curve.points.iter().rev().map(|p| (p.x, p.lo)))
            .collect();
        chart.draw_series(std::iter::once(Polygon::new(band, color.mix(0.2).filled())))?;
        let line = chart.draw_series(LineSeries::new(
            curve.points.iter().map(|p| (p.x, p.iqm)),
            color.stroke_width(2),
        ))?;
        if legend {
            line.label(&curve.label)
                .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        }
    }
    if legend {
        draw_legend(&mut chart)?;
    }
    root.present()?;
    Ok(())
}

fn draw_legend<'a, DB: DrawingBackend + 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, DB, Cartesian2d<X, Y>>,
) -> Result<(), Box<dyn std::error::Error>>
where
    DB::ErrorType: 'static,
{
    chart
        .configure_series_labels()
        .label_font((FONT, 14))
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .position(SeriesLabelPosition::UpperLeft)
        .draw()?;
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
    fn only_named_rows_get_a_legend() {
        let row = |label: &str| super::super::table::Row {
            label: label.into(),
            cells: Vec::new(),
        };
        let table = |rows| Table {
            experiment: "e".into(),
            row_title: String::new(),
            x_axis: "variant".into(),
            columns: Vec::new(),
            rows,
        };
        assert!(!has_legend(&table(vec![row("")])));
        assert!(!has_legend(&table(Vec::new())));
        assert!(has_legend(&table(vec![row("rigl"), row("set")])));
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
