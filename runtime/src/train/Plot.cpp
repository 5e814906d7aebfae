//===- Plot.cpp - an SVG figure of a run's --metrics log ------------------===//
//
// The log is read whole (a run logs at most a few thousand lines) into a map
// from step to losses, so a resumed run's repeated steps replace the first
// part's. The SVG is written by hand: a dozen element kinds do not justify a
// plotting dependency, and the file opens in any browser with nothing beside
// it (no scripts, styles or fonts of its own).
//
//===----------------------------------------------------------------------===//
#include "locus/runtime/train/Plot.h"

#include "locus/runtime/train/AtomicFile.h"

#include "locus/runtime/train/Json.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fmt/format.h>
#include <fmt/ranges.h> // fmt::join from fmt 11 on
#include <iterator>
#include <limits>
#include <map>

namespace locus::rt::train {

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

//===----------------------------------------------------------------------===//
// Reading
//===----------------------------------------------------------------------===//

double numberOr(const JsonValue &object, std::string_view key, double otherwise) {
  const JsonValue *v = object.find(key);
  return v && v->kind == JsonValue::Kind::Number ? v->number : otherwise;
}

std::string stringOf(const JsonValue &object, std::string_view key) {
  const JsonValue *v = object.find(key);
  return v && v->kind == JsonValue::Kind::String ? v->text : std::string();
}

/// An array's strings ("rules": ["clapp++"]); a plain string counts as one.
std::vector<std::string> stringsOf(const JsonValue &object, std::string_view key) {
  std::vector<std::string> out;
  const JsonValue *v = object.find(key);
  if (v && v->kind == JsonValue::Kind::String)
    out.push_back(v->text);
  if (v && v->kind == JsonValue::Kind::Array)
    for (const JsonValue &item : v->items)
      if (item.kind == JsonValue::Kind::String)
        out.push_back(item.text);
  return out;
}

/// Reads lines with POSIX getline so a read error (a directory, an I/O
/// failure) is told apart from the end of the file.
class LineReader {
public:
  explicit LineReader(FILE *file) : file_(file) {}
  LineReader(const LineReader &) = delete;
  LineReader &operator=(const LineReader &) = delete;
  ~LineReader() {
    std::free(buffer_);
    std::fclose(file_);
  }
  bool next(std::string &line) {
    ssize_t n = ::getline(&buffer_, &capacity_, file_);
    if (n < 0)
      return false;
    line.assign(buffer_, static_cast<size_t>(n));
    while (!line.empty() && (line.back() == '\n' || line.back() == '\r'))
      line.pop_back();
    return true;
  }
  bool failed() const { return std::ferror(file_) != 0; }

private:
  FILE *file_;
  char *buffer_ = nullptr;
  size_t capacity_ = 0;
};

//===----------------------------------------------------------------------===//
// Drawing
//===----------------------------------------------------------------------===//

// The figure's layout in SVG user units: the plot area, and the legend and
// probe box to its right.
constexpr int kWidth = 900, kHeight = 520;
constexpr double kLeft = 72, kRight = 700, kTop = 48, kBottom = 462;
constexpr double kLegendX = 722;

// Matplotlib's "tab10": distinct hues that also survive greyscale printing
// reasonably; more blocks than colours reuse them dashed.
constexpr const char *kColours[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};
constexpr size_t kColourCount = sizeof(kColours) / sizeof(kColours[0]);

/// A linear axis whose ends and ticks are multiples of 1, 2 or 5 times a
/// power of ten.
struct Axis {
  double lo = 0, hi = 1, step = 1;
  int decimals = 0; ///< of the tick labels

  /// `v` mapped from [lo, hi] onto [from, to].
  double map(double v, double from, double to) const {
    return from + (v - lo) / (hi - lo) * (to - from);
  }
  std::vector<double> ticks() const {
    std::vector<double> out;
    for (int i = 0; lo + i * step <= hi + step * 1e-6; ++i)
      out.push_back(lo + i * step);
    return out;
  }
};

/// About `count` intervals covering [min, max]; `integral`: no step below 1
/// (the x axis counts steps).
Axis niceAxis(double min, double max, int count, bool integral) {
  if (!(max > min)) { // one value: a window around it
    double half = min != 0 ? std::abs(min) * 0.1 : 0.5;
    min -= half;
    max += half;
  }
  double raw = (max - min) / count;
  double power = std::pow(10.0, std::floor(std::log10(raw)));
  double fraction = raw / power;
  Axis axis;
  // The nearest nice step, not the next larger: between about 2/3 and 1.5
  // times `count` ticks instead of as few as half.
  axis.step = (fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10) * power;
  if (integral)
    axis.step = std::max(axis.step, 1.0);
  // The tolerances keep a bound that is already a multiple from growing a step.
  axis.lo = std::floor(min / axis.step + 1e-9) * axis.step;
  axis.hi = std::ceil(max / axis.step - 1e-9) * axis.step;
  axis.decimals = axis.step >= 1 ? 0 : static_cast<int>(std::ceil(-std::log10(axis.step) - 1e-9));
  return axis;
}

std::string tickLabel(double v, const Axis &axis) {
  if (std::abs(v) < axis.step * 1e-6)
    return fmt::format("{:.{}f}", 0.0, axis.decimals); // not "-0.00" or "0k"
  if (axis.step >= 1e6)
    return fmt::format("{}M", v / 1e6);
  if (axis.step >= 1e3)
    return fmt::format("{}k", v / 1e3);
  return fmt::format("{:.{}f}", v, axis.decimals);
}

std::string xmlEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
    case '&':
      out += "&amp;";
      break;
    case '<':
      out += "&lt;";
      break;
    case '>':
      out += "&gt;";
      break;
    case '"':
      out += "&quot;";
      break;
    default:
      out += c;
    }
  }
  return out;
}

/// At most `limit` characters (bytes; names are ASCII in practice) so a long
/// block name stays inside the legend column.
std::string shortened(const std::string &text, size_t limit) {
  return text.size() <= limit ? text : text.substr(0, limit - 3) + "...";
}

std::string percent(double fraction) {
  return std::isfinite(fraction) ? fmt::format("{:.2f}%", 100 * fraction) : std::string("n/a");
}

/// Tolerates a hand-made series whose names or values are short.
std::string blockName(const MetricsSeries &s, size_t b) {
  return b < s.blocks.size() ? s.blocks[b] : fmt::format("block {}", b + 1);
}
double lossAt(const MetricsSeries &s, size_t b, size_t i) {
  return i < s.loss[b].size() ? s.loss[b][i] : kNaN;
}

std::string titleOf(const MetricsSeries &s) {
  std::string title = "Loss per block";
  if (s.model.empty())
    return title;
  title += ": " + s.model;
  if (!s.rules.empty())
    title += ", rule " + s.rules + (s.mode.empty() ? "" : " (" + s.mode + " mode)");
  if (!s.optimizer.empty())
    title += ", " + s.optimizer;
  return title;
}

} // namespace

Status readMetrics(const std::string &path, MetricsSeries &out) {
  out = MetricsSeries{};
  FILE *file = std::fopen(path.c_str(), "r");
  if (!file)
    return Status::error(fmt::format("{}: cannot open: {}", path, std::strerror(errno)));
  LineReader reader(file);

  std::map<int64_t, std::vector<double>> byStep;
  std::vector<std::string> runBlocks, heldOutBlocks;
  int64_t lastStep = -1; // of the run part being read, for the probe's label
  std::string line;
  for (int64_t lineNo = 1; reader.next(line); ++lineNo) {
    if (line.find_first_not_of(" \t") == std::string::npos)
      continue;
    JsonValue record;
    Status parsed = parseJson(line, record);
    if (!parsed.isOk())
      return Status::error(fmt::format("{}:{}: {}", path, lineNo, parsed.message()));
    if (record.kind != JsonValue::Kind::Object)
      return Status::error(fmt::format("{}:{}: not a JSON object", path, lineNo));

    const std::string type = stringOf(record, "type");
    if (type == "step") {
      const JsonValue *step = record.find("step");
      const JsonValue *loss = record.find("loss");
      // |step| < 2^53: an integer a double holds exactly, and llround can take.
      if (!step || step->kind != JsonValue::Kind::Number || !(std::abs(step->number) < 0x1p53) ||
          !loss || loss->kind != JsonValue::Kind::Array)
        return Status::error(fmt::format(
            "{}:{}: a step record needs a number \"step\" and a \"loss\" array", path, lineNo));
      std::vector<double> values;
      for (const JsonValue &v : loss->items)
        values.push_back(v.kind == JsonValue::Kind::Number && std::isfinite(v.number) ? v.number
                                                                                       : kNaN);
      // A resumed run logs again the steps after its checkpoint's: the later
      // record replaces the earlier.
      lastStep = std::llround(step->number);
      byStep[lastStep] = std::move(values);
    } else if (type == "resume") {
      // The weights an --eval-only resume probes are this step's.
      double from = numberOr(record, "step", -1);
      lastStep = std::isfinite(from) && from >= 0 ? std::llround(from) : -1;
    } else if (type == "run") {
      out.model = stringOf(record, "model");
      out.rules = fmt::format("{}", fmt::join(stringsOf(record, "rules"), "/"));
      out.mode = stringOf(record, "mode");
      out.optimizer = stringOf(record, "optimizer");
      runBlocks = stringsOf(record, "blocks");
    } else if (type == "heldout") {
      std::string block = stringOf(record, "block");
      if (!block.empty() &&
          std::find(heldOutBlocks.begin(), heldOutBlocks.end(), block) == heldOutBlocks.end())
        heldOutBlocks.push_back(block);
    } else if (type == "probe") {
      ProbeAccuracy probe;
      probe.test = numberOr(record, "test_acc", kNaN);
      probe.train = numberOr(record, "train_acc", kNaN);
      probe.features = static_cast<int64_t>(numberOr(record, "features", 0));
      probe.epochs = static_cast<int64_t>(numberOr(record, "epochs", 0));
      probe.step = lastStep;
      out.probes.push_back(probe);
    }
    // Anything else ("epoch", "memory", "nonfinite", a type a later trainer
    // adds) has nothing this figure shows.
  }
  if (reader.failed())
    return Status::error(fmt::format("{}: cannot read: {}", path, std::strerror(errno)));

  size_t blockCount = 0;
  for (const auto &[step, values] : byStep)
    blockCount = std::max(blockCount, values.size());
  out.loss.assign(blockCount, std::vector<double>(byStep.size(), kNaN));
  for (const auto &[step, values] : byStep) {
    for (size_t b = 0; b < values.size(); ++b)
      out.loss[b][out.steps.size()] = values[b];
    out.steps.push_back(step);
  }
  // Names only where they account for every block: a partial list would
  // label the wrong lines.
  if (runBlocks.size() == blockCount)
    out.blocks = runBlocks;
  else if (heldOutBlocks.size() == blockCount)
    out.blocks = heldOutBlocks;
  else
    for (size_t b = 0; b < blockCount; ++b)
      out.blocks.push_back(fmt::format("block {}", b + 1));
  return Status::success();
}

std::string renderLossSvg(const MetricsSeries &series) {
  double lossMin = std::numeric_limits<double>::infinity(), lossMax = -lossMin;
  for (const std::vector<double> &values : series.loss)
    for (double v : values)
      if (std::isfinite(v)) {
        lossMin = std::min(lossMin, v);
        lossMax = std::max(lossMax, v);
      }
  if (lossMin > lossMax) // no finite loss at all: an empty, still labelled, chart
    lossMin = 0, lossMax = 1;
  Axis x = series.steps.empty()
               ? niceAxis(0, 1, 7, true)
               : niceAxis(double(series.steps.front()), double(series.steps.back()), 7, true);
  Axis y = niceAxis(lossMin, lossMax, 6, false);
  auto px = [&](double v) { return x.map(v, kLeft, kRight); };
  auto py = [&](double v) { return y.map(v, kBottom, kTop); };

  std::string svg;
  auto out = std::back_inserter(svg);
  const std::string title = titleOf(series);
  fmt::format_to(out,
                 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
                 "viewBox=\"0 0 {0} {1}\" font-family=\"DejaVu Sans, Helvetica, Arial, "
                 "sans-serif\" font-size=\"12\">\n"
                 "<title>{2}</title>\n"
                 "<rect width=\"{0}\" height=\"{1}\" fill=\"white\"/>\n"
                 "<text class=\"title\" x=\"{3}\" y=\"30\" font-size=\"16\" "
                 "font-weight=\"bold\">{2}</text>\n",
                 kWidth, kHeight, xmlEscape(title), kLeft);

  // Grid, ticks and their labels, then the frame over the grid's ends.
  fmt::format_to(out, "<g class=\"grid\" stroke=\"#e4e4e4\" stroke-width=\"1\">\n");
  for (double t : x.ticks())
    fmt::format_to(out, "<line x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\"/>\n", px(t),
                   kTop, kBottom);
  for (double t : y.ticks())
    fmt::format_to(out, "<line x1=\"{1}\" y1=\"{0:.1f}\" x2=\"{2}\" y2=\"{0:.1f}\"/>\n", py(t),
                   kLeft, kRight);
  fmt::format_to(out, "</g>\n<g class=\"ticks\" fill=\"#333\">\n");
  for (double t : x.ticks())
    fmt::format_to(out, "<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", px(t),
                   kBottom + 17, tickLabel(t, x));
  for (double t : y.ticks())
    fmt::format_to(out, "<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", kLeft - 7,
                   py(t) + 4, tickLabel(t, y));
  fmt::format_to(out,
                 "</g>\n"
                 "<rect class=\"frame\" x=\"{0}\" y=\"{1}\" width=\"{2}\" height=\"{3}\" "
                 "fill=\"none\" stroke=\"#333\"/>\n"
                 "<text class=\"axis-label\" x=\"{4}\" y=\"{5}\" text-anchor=\"middle\" "
                 "font-size=\"13\">step</text>\n"
                 "<text class=\"axis-label\" transform=\"translate(20 {6}) rotate(-90)\" "
                 "text-anchor=\"middle\" font-size=\"13\">loss</text>\n",
                 kLeft, kTop, kRight - kLeft, kBottom - kTop, (kLeft + kRight) / 2, kBottom + 40,
                 (kTop + kBottom) / 2);

  // One path a block; a missing value lifts the pen, so the line breaks there
  // instead of bridging the gap. A lone point between gaps is drawn as a dot
  // (a zero-length segment with round caps); few points also get markers.
  const bool markers = series.steps.size() <= 40;
  for (size_t b = 0; b < series.loss.size(); ++b) {
    const char *colour = kColours[b % kColourCount];
    const char *dash = b < kColourCount ? "" : " stroke-dasharray=\"6 3\"";
    std::string d, dots;
    size_t run = 0; // points since the pen went down
    for (size_t i = 0; i <= series.steps.size(); ++i) {
      double v = i < series.steps.size() ? lossAt(series, b, i) : kNaN;
      if (!std::isfinite(v)) {
        if (run == 1)
          d += " h0";
        run = 0;
        continue;
      }
      double cx = px(double(series.steps[i])), cy = py(v);
      d += fmt::format("{}{}{:.1f} {:.1f}", d.empty() ? "" : " ", run ? "L" : "M", cx, cy);
      ++run;
      if (markers)
        dots += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"2.5\"/>", cx, cy);
    }
    if (d.empty())
      continue; // no loss to draw (global mode's lower blocks); the legend says so
    fmt::format_to(out,
                   "<g class=\"series\" fill=\"{1}\">\n"
                   "<path class=\"loss\" data-block=\"{0}\" d=\"{2}\" fill=\"none\" "
                   "stroke=\"{1}\" stroke-width=\"1.8\" stroke-linejoin=\"round\" "
                   "stroke-linecap=\"round\"{3}/>\n",
                   xmlEscape(blockName(series, b)), colour, d, dash);
    if (!dots.empty())
      fmt::format_to(out, "{}\n", dots);
    fmt::format_to(out, "</g>\n");
  }

  // Legend, then the probe's accuracies beneath it.
  double ly = kTop + 8;
  fmt::format_to(out, "<g class=\"legend\">\n");
  for (size_t b = 0; b < series.loss.size(); ++b, ly += 20) {
    bool drawn = std::any_of(series.loss[b].begin(), series.loss[b].end(),
                             [](double v) { return std::isfinite(v); });
    fmt::format_to(out,
                   "<line x1=\"{0}\" y1=\"{1}\" x2=\"{2}\" y2=\"{1}\" stroke=\"{3}\" "
                   "stroke-width=\"2.5\"{4}/>\n"
                   "<text x=\"{5}\" y=\"{6}\"{7}>{8}</text>\n",
                   kLegendX, ly, kLegendX + 24, drawn ? kColours[b % kColourCount] : "#bbb",
                   b < kColourCount ? "" : " stroke-dasharray=\"6 3\"", kLegendX + 32, ly + 4,
                   drawn ? "" : " fill=\"#888\"",
                   xmlEscape(shortened(blockName(series, b), 22) + (drawn ? "" : " (no loss)")));
  }
  fmt::format_to(out, "</g>\n");

  if (!series.probes.empty()) {
    // One probe: its details. Several (an --eval-only run appended to a
    // training run's log): the latest few, with the step each followed.
    std::vector<std::string> lines;
    if (series.probes.size() == 1) {
      const ProbeAccuracy &p = series.probes.front();
      lines.push_back("test accuracy " + percent(p.test));
      lines.push_back("train accuracy " + percent(p.train));
      if (p.features > 0)
        lines.push_back(fmt::format("{} features, {} epochs", p.features, p.epochs));
      if (p.step >= 0)
        lines.push_back(fmt::format("after step {}", p.step));
    } else {
      const size_t shown = std::min<size_t>(series.probes.size(), 6);
      for (size_t i = series.probes.size() - shown; i < series.probes.size(); ++i) {
        const ProbeAccuracy &p = series.probes[i];
        lines.push_back((p.step >= 0 ? fmt::format("step {}: ", p.step) : std::string()) +
                        "test " + percent(p.test));
      }
    }
    double top = ly + 12, height = 30 + 17.0 * double(lines.size());
    fmt::format_to(out,
                   "<g class=\"probe\">\n"
                   "<rect x=\"{0}\" y=\"{1}\" width=\"{2}\" height=\"{3}\" rx=\"4\" "
                   "fill=\"#f7f7f7\" stroke=\"#999\"/>\n"
                   "<text x=\"{4}\" y=\"{5}\" font-weight=\"bold\">linear probe</text>\n",
                   kLegendX - 6, top, kWidth - kLegendX - 6, height, kLegendX + 4, top + 20);
    for (size_t i = 0; i < lines.size(); ++i)
      fmt::format_to(out, "<text x=\"{}\" y=\"{}\">{}</text>\n", kLegendX + 4,
                     top + 38 + 17.0 * double(i), xmlEscape(lines[i]));
    fmt::format_to(out, "</g>\n");
  }
  fmt::format_to(out, "</svg>\n");
  return svg;
}

std::string defaultPlotPath(const std::string &metricsPath) {
  size_t slash = metricsPath.find_last_of('/');
  size_t dot = metricsPath.find_last_of('.');
  // A dot in a folder's name, or one that starts the file's name (".jsonl"),
  // is not an extension.
  bool hasExtension = dot != std::string::npos && dot > 0 &&
                      (slash == std::string::npos || dot > slash + 1);
  return (hasExtension ? metricsPath.substr(0, dot) : metricsPath) + ".svg";
}

Status writePlot(const std::string &metricsPath, const std::string &svgPath) {
  if (svgPath == metricsPath)
    return Status::error(fmt::format("{}: the figure would replace the metrics it is drawn from",
                                     svgPath));
  MetricsSeries series;
  LOCUS_RETURN_IF_ERROR(readMetrics(metricsPath, series));
  if (series.steps.empty())
    return Status::error(fmt::format(
        "{}: no \"step\" records to plot (a run that stopped before its first logged step, an "
        "--eval-only run, or not a --metrics log)",
        metricsPath));
  const std::string svg = renderLossSvg(series);

  return writeFileAtomically(svgPath, {svg});
}

} // namespace locus::rt::train
