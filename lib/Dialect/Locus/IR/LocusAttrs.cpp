//===- LocusAttrs.cpp - #locus.loss and the locus enums -------------------===//
//
// `#locus.loss` has a keyword syntax `<key = value, ...>` in any order so that
// hand-written IR only names what differs from the defaults; the printer
// always spells out the structural fields and prints the numeric ones only
// when they differ from their defaults, so lit tests stay readable.
//
//===----------------------------------------------------------------------===//
#include "locus/Dialect/Locus/IR/LocusAttrs.h"
#include "locus/Dialect/Locus/IR/LocusDialect.h"
#include "locus/Dialect/Locus/IR/RulePresets.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace locus;

#include "locus/Dialect/Locus/IR/LocusEnums.cpp.inc"

#define GET_ATTRDEF_CLASSES
#include "locus/Dialect/Locus/IR/LocusAttrs.cpp.inc"

void LocusDialect::registerAttributes() {
  addAttributes<
#define GET_ATTRDEF_LIST
#include "locus/Dialect/Locus/IR/LocusAttrs.cpp.inc"
      >();
}

// Defined here, beside the storage class that getChecked instantiates.
LossAttr
LossSpec::getChecked(llvm::function_ref<InFlightDiagnostic()> emitError,
                     MLIRContext *ctx) const {
  return LossAttr::getChecked(emitError, ctx, rule, score, f, form,
                              projection, context, contextBlock, pool,
                              contextPool, negatives, APFloat(theta),
                              APFloat(theta2), APFloat(lambda),
                              APFloat(temperature), APFloat(weight), mode);
}

namespace {
/// Parses one enum keyword with the generated `symbolize` function.
template <typename EnumT>
ParseResult parseEnumKeyword(AsmParser &parser, StringRef key, EnumT &out,
                             std::optional<EnumT> (*symbolize)(StringRef)) {
  SMLoc loc = parser.getCurrentLocation();
  StringRef word;
  if (parser.parseKeyword(&word))
    return failure();
  std::optional<EnumT> value = symbolize(word);
  if (!value)
    return parser.emitError(loc) << "unknown value '" << word << "' for '"
                                 << key << "'";
  out = *value;
  return success();
}

/// `global`, `none`, `auto` (when allowed) or a positive kernel size.
ParseResult parsePool(AsmParser &parser, StringRef key, int64_t &out,
                      bool allowAuto) {
  SMLoc loc = parser.getCurrentLocation();
  if (succeeded(parser.parseOptionalKeyword("global"))) {
    out = LossAttr::kPoolGlobal;
    return success();
  }
  if (succeeded(parser.parseOptionalKeyword("none"))) {
    out = LossAttr::kPoolNone;
    return success();
  }
  if (allowAuto && succeeded(parser.parseOptionalKeyword("auto"))) {
    out = LossAttr::kPoolAuto;
    return success();
  }
  int64_t kernel = 0;
  if (parser.parseInteger(kernel))
    return failure();
  if (kernel < 1)
    return parser.emitError(loc)
           << "'" << key << "' must be a positive kernel size, 'global'"
           << (allowAuto ? ", 'none' or 'auto'" : " or 'none'");
  out = kernel;
  return success();
}

void printPool(AsmPrinter &printer, int64_t pool) {
  if (pool == LossAttr::kPoolGlobal)
    printer << "global";
  else if (pool == LossAttr::kPoolNone)
    printer << "none";
  else if (pool == LossAttr::kPoolAuto)
    printer << "auto";
  else
    printer << pool;
}
} // namespace

Attribute LossAttr::parse(AsmParser &parser, Type) {
  LossSpec spec; // omitted fields keep LossSpec's defaults
  llvm::StringSet<> seen;
  auto parseField = [&]() -> ParseResult {
    SMLoc loc = parser.getCurrentLocation();
    StringRef key;
    if (parser.parseKeyword(&key) || parser.parseEqual())
      return failure();
    if (!seen.insert(key).second)
      return parser.emitError(loc) << "field '" << key << "' given twice";
    if (key == "rule")
      return parser.parseString(&spec.rule);
    if (key == "context_block")
      return parser.parseString(&spec.contextBlock);
    if (key == "score")
      return parseEnumKeyword(parser, key, spec.score, symbolizeScore);
    if (key == "f")
      return parseEnumKeyword(parser, key, spec.f, symbolizeLossFunction);
    if (key == "form")
      return parseEnumKeyword(parser, key, spec.form, symbolizeLossForm);
    if (key == "projection")
      return parseEnumKeyword(parser, key, spec.projection, symbolizeProjection);
    if (key == "context")
      return parseEnumKeyword(parser, key, spec.context, symbolizeContext);
    if (key == "negatives")
      return parseEnumKeyword(parser, key, spec.negatives, symbolizeNegatives);
    if (key == "mode")
      return parseEnumKeyword(parser, key, spec.mode, symbolizeTrainingMode);
    if (key == "pool")
      return parsePool(parser, key, spec.pool, /*allowAuto=*/false);
    if (key == "context_pool")
      return parsePool(parser, key, spec.contextPool, /*allowAuto=*/true);
    if (key == "theta")
      return parser.parseFloat(spec.theta);
    if (key == "theta2")
      return parser.parseFloat(spec.theta2);
    if (key == "lambda")
      return parser.parseFloat(spec.lambda);
    if (key == "temperature")
      return parser.parseFloat(spec.temperature);
    if (key == "weight")
      return parser.parseFloat(spec.weight);
    return parser.emitError(loc)
           << "unknown field '" << key
           << "' (expected rule, score, f, form, projection, context, "
              "context_block, pool, context_pool, negatives, theta, theta2, "
              "lambda, temperature, weight or mode)";
  };
  if (parser.parseCommaSeparatedList(AsmParser::Delimiter::LessGreater,
                                     parseField))
    return {};
  return spec.getChecked(
      [&] { return parser.emitError(parser.getNameLoc()); },
      parser.getContext());
}

void LossAttr::print(AsmPrinter &printer) const {
  printer << "<rule = ";
  printer.printString(getRule());
  printer << ", score = " << stringifyScore(getScore())
          << ", f = " << stringifyLossFunction(getF())
          << ", form = " << stringifyLossForm(getForm())
          << ", projection = " << stringifyProjection(getProjection())
          << ", context = " << stringifyContext(getContextSource());
  if (!getContextBlock().empty()) {
    printer << ", context_block = ";
    printer.printString(getContextBlock());
  }
  printer << ", pool = ";
  printPool(printer, getPool());
  if (getContextPool() != kPoolAuto) {
    printer << ", context_pool = ";
    printPool(printer, getContextPool());
  }
  printer << ", negatives = " << stringifyNegatives(getNegatives());
  auto printIfSet = [&](StringRef key, double value, double defaultValue) {
    if (value != defaultValue)
      printer << ", " << key << " = " << value;
  };
  const LossSpec defaults;
  printIfSet("theta", getThetaValue(), defaults.theta);
  printIfSet("theta2", getTheta2Value(), defaults.theta2);
  printIfSet("lambda", getLambdaValue(), defaults.lambda);
  printIfSet("temperature", getTemperatureValue(), defaults.temperature);
  printIfSet("weight", getWeightValue(), defaults.weight);
  printer << ", mode = " << stringifyTrainingMode(getMode()) << ">";
}

LogicalResult
LossAttr::verify(function_ref<InFlightDiagnostic()> emitError, StringRef rule,
                 Score score, LossFunction f, LossForm form,
                 Projection projection, Context context,
                 StringRef contextBlock, int64_t pool, int64_t contextPool,
                 Negatives negatives, APFloat theta, APFloat theta2,
                 APFloat lambda, APFloat temperature, APFloat weight,
                 TrainingMode mode) {
  if (pool < kPoolNone)
    return emitError() << "loss pool must be a positive kernel, global or "
                          "none, got "
                       << pool;
  if (contextPool < kPoolAuto)
    return emitError() << "loss context_pool must be a positive kernel, "
                          "global, none or auto, got "
                       << contextPool;
  if (context == Context::Same && !contextBlock.empty())
    return emitError() << "context_block '" << contextBlock
                       << "' needs context = top or both";
  bool goodness =
      score == Score::SumSquares || score == Score::MeanReluSquares;
  if (goodness && projection != Projection::Identity)
    return emitError() << "a goodness score (" << stringifyScore(score)
                       << ") has no projection: use projection = identity";
  if (goodness && context != Context::Same)
    return emitError() << "a goodness score (" << stringifyScore(score)
                       << ") uses the block's own output as context";
  if (context == Context::Both && score != Score::Bilinear)
    return emitError() << "context = both needs the bilinear score";
  if ((f == LossFunction::InfoNCE) != (score == Score::Cosine))
    return emitError() << "f = infonce and score = cosine go together";
  if (form == LossForm::Difference && f == LossFunction::InfoNCE)
    return emitError() << "InfoNCE has no difference form";
  if (temperature.convertToDouble() <= 0.0)
    return emitError() << "temperature must be positive, got "
                       << temperature.convertToDouble();
  if (weight.convertToDouble() < 0.0)
    return emitError() << "loss weight must not be negative, got "
                       << weight.convertToDouble();
  if (lambda.convertToDouble() < 0.0)
    return emitError() << "lambda must not be negative, got "
                       << lambda.convertToDouble();
  (void)rule;
  (void)negatives;
  (void)theta;
  (void)theta2;
  (void)mode;
  return success();
}
