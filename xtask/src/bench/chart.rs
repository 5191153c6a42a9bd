//! The overhead chart: CPU per request each variant adds over its floor, Palisade beside native.
//! The axis is logarithmic: overheads run from under a microsecond (native header rewrites) to
//! a millisecond (RSA in Wasm), and a linear axis would flatten all but the largest.

use super::report::{overhead, Row};
use super::variants::Kind;
use crate::util::Result;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::path::Path;

const PALISADE: RGBColor = RGBColor(0x2b, 0x6c, 0xb0);
const NATIVE: RGBColor = RGBColor(0x9a, 0x9a, 0x9a);
/// Overheads at or below this (noise, or truly nothing) are drawn as this.
const SMALLEST: f64 = 0.1;
const LABELS_WIDTH: u32 = 430;

/// Writes a horizontal bar chart of every non-floor variant's overhead to `path` (SVG), in the
/// report's order from the top.
pub fn write(rows: &[Row], path: &Path) -> Result {
    let bars: Vec<(&str, f64, Kind)> = rows
        .iter()
        .filter(|r| r.kind != Kind::Floor)
        .filter_map(|r| Some((r.name.as_str(), overhead(r, rows)?, r.kind)))
        .collect();
    let n = bars.len();
    let top = bars.iter().map(|b| b.1).fold(10.0_f64, f64::max) * 2.0;
    let height = u32::try_from(100 + 24 * n).unwrap_or(2000);
    let root = SVGBackend::new(path, (1100, height)).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| format!("chart {}: {e}", path.display());
    root.fill(&WHITE).map_err(|e| err(&e))?;
    #[allow(clippy::cast_precision_loss)] // A few dozen bars.
    let rows_axis = 0.0..n as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Envoy CPU added per request over no filter (µs, medians, log scale)",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(LABELS_WIDTH)
        .build_cartesian_2d((SMALLEST..top).log_scale(), rows_axis)
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(0)
        .x_label_formatter(&|v| format!("{v}"))
        .x_desc(
            "µs of Envoy CPU per request over the floor (blue: Palisade Wasm, grey: native Envoy)",
        )
        .draw()
        .map_err(|e| err(&e))?;
    // Bar i (from the top) spans rows n-1-i .. n-i.
    #[allow(clippy::cast_precision_loss)] // A few dozen bars.
    let row = |i: usize| (n - 1 - i) as f64;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (_, value, kind))| {
            let color = if *kind == Kind::Native {
                NATIVE
            } else {
                PALISADE
            };
            Rectangle::new(
                [
                    (SMALLEST, row(i) + 0.15),
                    (value.max(SMALLEST), row(i) + 0.85),
                ],
                color.filled(),
            )
        }))
        .map_err(|e| err(&e))?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (_, value, _))| {
            Text::new(
                format!(" {value:.1}"),
                (value.max(SMALLEST), row(i) + 0.5),
                ("sans-serif", 12)
                    .into_font()
                    .into_text_style(&root)
                    .pos(Pos::new(HPos::Left, VPos::Center)),
            )
        }))
        .map_err(|e| err(&e))?;
    // Names beside the axis, drawn on the whole canvas (the plot area would clip them).
    for (i, (name, _, _)) in bars.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(SMALLEST, row(i) + 0.5));
        root.draw(&Text::new(
            name.to_string(),
            (x - 8, y),
            ("sans-serif", 13)
                .into_font()
                .into_text_style(&root)
                .pos(Pos::new(HPos::Right, VPos::Center)),
        ))
        .map_err(|e| err(&e))?;
    }
    root.present().map_err(|e| err(&e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, kind: Kind, floor: &str, cpu_us: f64) -> Row {
        Row {
            id: id.into(),
            name: format!("{id} name"),
            kind,
            floor: floor.into(),
            native: None,
            cpu_us,
            throughput: 1.0,
            p50_us: 1,
            p99_us: 1,
            rss_kib: 1,
        }
    }

    #[test]
    fn every_measured_variant_gets_a_labelled_bar_and_floors_none() {
        let rows = [
            row("floor", Kind::Floor, "floor", 20.0),
            row("wasm", Kind::Wasm, "floor", 1200.0),
            row("native", Kind::Native, "floor", 20.3),
            row("noise", Kind::Native, "floor", 19.0),
        ];
        let path = std::env::temp_dir().join(format!("palisade-chart-{}.svg", std::process::id()));
        write(&rows, &path).unwrap();
        let svg = std::fs::read_to_string(&path).unwrap();
        let _ = std::fs::remove_file(&path);
        for name in ["wasm name", "native name", "noise name"] {
            assert!(svg.contains(name), "{name} missing");
        }
        assert!(!svg.contains("floor name"));
        assert!(svg.contains("1180.0") && svg.contains("-1.0"));
    }
}
