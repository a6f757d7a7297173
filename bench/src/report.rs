//! Output of a run: the run directory, `.hgrm` files (HdrHistogram's percentile distribution
//! text format), SVG percentile plots and `report.md`.

use std::path::{Path, PathBuf};

use hdrhistogram::Histogram;

/// Significant value digits of every latency histogram.
pub const SIGFIG: u8 = 3;

/// A latency histogram in nanoseconds, 1 ns .. 100 s, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 100_000_000_000, SIGFIG).expect("histogram bounds are valid")
}

/// Value of `h` at percentile `p` (0..=100) in microseconds.
pub fn us(h: &Histogram<u64>, p: f64) -> f64 {
    h.value_at_percentile(p) as f64 / 1e3
}

/// The HdrHistogram percentile distribution text (`.hgrm`) of `h`: see [`fixhgrm::hgrm`].
pub use fixhgrm::hgrm;

/// One series of a percentile plot.
pub struct Series<'a> {
    /// Legend label.
    pub label: String,
    /// Latencies in ns.
    pub hist: &'a Histogram<u64>,
}

/// Writes an SVG percentile plot (x: percentile on the usual 1/(1-p) log axis, y: microseconds).
pub fn plot_svg(path: &Path, title: &str, series: &[Series<'_>]) -> Result<(), String> {
    use plotters::prelude::*;
    let pts: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| {
            s.hist
                .iter_quantiles(5)
                .map(|v| {
                    // The last point (quantile 1) is drawn at 1 - 1/count.
                    let cap = 1.0 - 1.0 / (s.hist.len().max(2) as f64);
                    let q = v.quantile_iterated_to().min(cap);
                    (1.0 / (1.0 - q), v.value_iterated_to() as f64 / 1e3)
                })
                .collect()
        })
        .collect();
    let xmax = pts
        .iter()
        .flatten()
        .map(|p| p.0)
        .fold(10.0f64, f64::max)
        .min(1e7);
    let ymax = pts.iter().flatten().map(|p| p.1).fold(0.01f64, f64::max) * 2.0;
    let ymin = (pts
        .iter()
        .flatten()
        .map(|p| p.1)
        .filter(|v| *v > 0.0)
        .fold(f64::MAX, f64::min)
        * 0.8)
        .clamp(0.001, ymax / 2.0);
    let root = SVGBackend::new(path, (900, 540)).into_drawing_area();
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d((1.0f64..xmax).log_scale(), (ymin..ymax).log_scale())
        .map_err(|e| e.to_string())?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (us, log scale)")
        .y_label_formatter(&|y| {
            if *y >= 100.0 {
                format!("{y:.0}")
            } else if *y >= 1.0 {
                format!("{y:.1}")
            } else {
                format!("{y:.3}")
            }
        })
        .x_label_formatter(&|x| {
            let p = 100.0 * (1.0 - 1.0 / x);
            if p < 99.0 {
                format!("{p:.0}%")
            } else {
                format!("{}%", trim(p))
            }
        })
        .draw()
        .map_err(|e| e.to_string())?;
    let colors = [&BLUE, &RED, &GREEN, &MAGENTA, &BLACK, &CYAN];
    for (i, (s, p)) in series.iter().zip(&pts).enumerate() {
        let c = colors[i % colors.len()];
        chart
            .draw_series(LineSeries::new(p.iter().copied(), c.stroke_width(2)))
            .map_err(|e| e.to_string())?
            .label(s.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())?;
    Ok(())
}

fn trim(p: f64) -> String {
    let s = format!("{p:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The run directory and the report being assembled.
pub struct Run {
    /// `bench/results/<run>/`.
    pub dir: PathBuf,
    /// `report.md` text so far.
    pub md: String,
    /// Files written, relative to `dir`.
    pub files: Vec<String>,
}

impl Run {
    /// Creates `root/<name>/`.
    pub fn create(root: &Path, name: &str) -> std::io::Result<Run> {
        let dir = root.join(name);
        std::fs::create_dir_all(&dir)?;
        Ok(Run {
            dir,
            md: String::new(),
            files: Vec::new(),
        })
    }

    /// Writes `name` in the run directory.
    pub fn write(&mut self, name: &str, text: &str) {
        let p = self.dir.join(name);
        match std::fs::write(&p, text) {
            Ok(()) => self.files.push(name.to_string()),
            Err(e) => eprintln!("bench: cannot write {}: {e}", p.display()),
        }
    }

    /// Writes one `.hgrm` per series (microseconds) and one SVG plot of all of them; returns the
    /// file names.
    pub fn latency_files(&mut self, stem: &str, title: &str, series: &[Series<'_>]) -> Vec<String> {
        let mut names = Vec::new();
        for s in series {
            let name = format!("{stem}.{}.hgrm", slug(&s.label));
            self.write(&name, &hgrm(s.hist, 1e3));
            names.push(name);
        }
        let svg = format!("{stem}.svg");
        let p = self.dir.join(&svg);
        match plot_svg(&p, title, series) {
            Ok(()) => {
                self.files.push(svg.clone());
                names.push(svg);
            }
            Err(e) => eprintln!("bench: cannot plot {}: {e}", p.display()),
        }
        names
    }

    /// [`Run::latency_files`] for labelled histograms, followed by the report's "Files:" line;
    /// nothing when `hists` is empty.
    pub fn latency_files_md(
        &mut self,
        stem: &str,
        title: &str,
        hists: &[(String, Histogram<u64>)],
    ) {
        if hists.is_empty() {
            return;
        }
        let series: Vec<Series<'_>> = hists
            .iter()
            .map(|(l, h)| Series {
                label: l.clone(),
                hist: h,
            })
            .collect();
        let files = self.latency_files(stem, title, &series);
        self.md(&format!("\nFiles: {}\n", files.join(", ")));
    }

    /// Appends markdown; keeps headings, paragraphs and tables apart with blank lines.
    pub fn md(&mut self, text: &str) {
        let last = self
            .md
            .trim_end_matches('\n')
            .rsplit('\n')
            .next()
            .unwrap_or("");
        let table_row = text.starts_with('|');
        let need_blank = !(self.md.is_empty()
            || self.md.ends_with("\n\n")
            || (table_row && last.starts_with('|')));
        if need_blank {
            if !self.md.ends_with('\n') {
                self.md.push('\n');
            }
            self.md.push('\n');
        }
        self.md.push_str(text.trim_start_matches('\n'));
        if !text.ends_with('\n') {
            self.md.push('\n');
        }
    }
}

/// A file-name-safe form of a label.
pub fn slug(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_string()
}

/// Ratio `a / b` as text ("-" when undefined).
pub fn ratio(a: f64, b: f64) -> String {
    if a.is_finite() && b.is_finite() && b > 0.0 {
        format!("{:.2}x", a / b)
    } else {
        "-".to_string()
    }
}

/// The current UTC time as `YYYY-MM-DDTHH-MM-SSZ` (file-name safe).
pub fn utc_stamp() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = civil(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}-{:02}-{:02}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
fn civil(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(19_000), (2022, 1, 8));
        assert_eq!(civil(20_416), (2025, 11, 24));
    }

    #[test]
    fn markdown_blocks_are_separated() {
        let dir = std::env::temp_dir().join(format!("fixbench-md-{}", std::process::id()));
        let mut r = Run::create(&dir, "t").unwrap();
        r.md("# title");
        r.md("para\n");
        r.md("| a | b |");
        r.md("|---|---|");
        r.md("| 1 | 2 |");
        r.md("after");
        assert_eq!(
            r.md,
            "# title\n\npara\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nafter\n"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn slugs_and_ratios() {
        assert_eq!(
            slug("engine <-> engine (io_uring)"),
            "engine-engine-io-uring"
        );
        assert_eq!(ratio(2.0, 1.0), "2.00x");
        assert_eq!(ratio(1.0, 0.0), "-");
    }
}
