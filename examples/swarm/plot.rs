//! The frame-time chart (`--plot FILE.svg`): frame index against frame time,
//! one line per run, and the pump's budget as a dashed line.
//! Frame times under 0.05 ms are drawn at 0.05 (the log scale's floor).

use std::time::Duration;

use plotters::prelude::*;

use crate::report::Summary;

/// Line colours, one per run (the baseline first).
const COLOURS: [RGBColor; 2] = [RGBColor(214, 96, 39), RGBColor(31, 119, 180)];

/// Draws the chart into `file` (SVG).
pub fn draw(file: &str, runs: &[(&str, &Summary)], budget: Option<Duration>) -> Result<(), String> {
    draw_chart(file, runs, budget).map_err(|error| format!("cannot draw {file}: {error}"))
}

fn draw_chart(
    file: &str,
    runs: &[(&str, &Summary)],
    budget: Option<Duration>,
) -> Result<(), Box<dyn std::error::Error>> {
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let frames = runs
        .iter()
        .map(|(_, run)| run.frame_times.len())
        .max()
        .unwrap_or(1);
    let highest = runs
        .iter()
        .flat_map(|(_, run)| run.frame_times.iter().copied())
        .chain(budget)
        .map(ms)
        .fold(1.0, f64::max);
    let root = SVGBackend::new(file, (900, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Frame time per frame", ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(52)
        // Log scale: a 4 ms budget and a 250 ms spike both stay readable.
        .build_cartesian_2d(0..frames, (0.05..highest * 1.5).log_scale())?;
    chart
        .configure_mesh()
        .x_desc("frame")
        .y_desc("frame time (ms, log scale)")
        .light_line_style(WHITE)
        .draw()?;
    for (&(name, run), colour) in runs.iter().zip(COLOURS) {
        let points = run
            .frame_times
            .iter()
            .enumerate()
            .map(|(frame, &time)| (frame, ms(time).max(0.05)));
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(1)))?
            .label(name)
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2)));
    }
    if let Some(budget) = budget {
        let line =
            DashedLineSeries::new([(0, ms(budget)), (frames, ms(budget))], 6, 4, BLACK.into());
        chart
            .draw_series(line)?
            .label(format!("pump budget {} ms", ms(budget)))
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}
