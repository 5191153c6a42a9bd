//! The overhead chart: CPU per request each variant adds over its floor, Palisade beside native.

use super::report::{overhead, Row};
use super::variants::Kind;
use crate::util::Result;
use plotters::prelude::*;
use std::path::Path;

const PALISADE: RGBColor = RGBColor(0x2b, 0x6c, 0xb0);
const NATIVE: RGBColor = RGBColor(0x9a, 0x9a, 0x9a);

/// Writes a horizontal bar chart of every non-floor variant's overhead to `path` (SVG).
pub fn write(rows: &[Row], path: &Path) -> Result {
    let bars: Vec<(&str, f64, Kind)> = rows
        .iter()
        .filter(|r| r.kind != Kind::Floor)
        .filter_map(|r| Some((r.name.as_str(), overhead(r, rows)?, r.kind)))
        .collect();
    let n = bars.len();
    let max = bars.iter().map(|b| b.1).fold(1.0_f64, f64::max) * 1.15;
    let min = bars.iter().map(|b| b.1).fold(0.0_f64, f64::min);
    let height = u32::try_from(90 + 26 * n).unwrap_or(2000);
    let root = SVGBackend::new(path, (960, height)).into_drawing_area();
    let err = |e: &dyn std::fmt::Display| format!("chart {}: {e}", path.display());
    root.fill(&WHITE).map_err(|e| err(&e))?;
    let mut chart = ChartBuilder::on(&root)
        .caption(
            "Envoy CPU added per request over no filter (µs, medians)",
            ("sans-serif", 18),
        )
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(300)
        .build_cartesian_2d(min..max, (0..n).into_segmented())
        .map_err(|e| err(&e))?;
    chart
        .configure_mesh()
        .disable_y_mesh()
        .y_labels(n)
        .y_label_formatter(&|v| match v {
            SegmentValue::CenterOf(i) => bars.get(*i).map(|b| b.0.to_string()).unwrap_or_default(),
            _ => String::new(),
        })
        .x_desc(
            "µs of Envoy CPU per request over the floor (blue: Palisade Wasm, grey: native Envoy)",
        )
        .draw()
        .map_err(|e| err(&e))?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (_, value, kind))| {
            let color = if *kind == Kind::Native {
                NATIVE
            } else {
                PALISADE
            };
            let mut bar = Rectangle::new(
                [
                    (0.0, SegmentValue::Exact(i)),
                    (*value, SegmentValue::Exact(i + 1)),
                ],
                color.filled(),
            );
            bar.set_margin(4, 4, 0, 0);
            bar
        }))
        .map_err(|e| err(&e))?;
    chart
        .draw_series(bars.iter().enumerate().map(|(i, (_, value, _))| {
            Text::new(
                format!(" {value:.1}"),
                (value.max(0.0), SegmentValue::CenterOf(i)),
                ("sans-serif", 12),
            )
        }))
        .map_err(|e| err(&e))?;
    root.present().map_err(|e| err(&e))?;
    Ok(())
}
