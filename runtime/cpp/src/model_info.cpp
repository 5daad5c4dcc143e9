// Parse the model's `nst.io` metadata: the ExportSpec JSON written by export/metadata.py.
#include <nlohmann/json.hpp>

#include "backend.hpp"

namespace nst::detail {
namespace {

using nlohmann::json;

/** True for the standard image tensor: float32 ["batch"|N, 3, "height", "width"]. */
bool is_image_tensor(const json& tensor) {
  const json& shape = tensor.at("shape");
  return tensor.value("dtype", "float32") == "float32" && shape.is_array() && shape.size() == 4 &&
         shape[1].is_number_integer() && shape[1].get<int64_t>() == 3 && shape[2].is_string() &&
         shape[3].is_string();
}

std::string names_of(const json& tensors) {
  std::string names;
  for (const json& t : tensors) names += (names.empty() ? "" : ", ") + t.at("name").get<std::string>();
  return "[" + names + "]";
}

}  // namespace

ModelInfo parse_model_info(const std::string& family, const std::string& io_json,
                           const std::string& source) {
  json io;
  try {
    io = json::parse(io_json);
  } catch (const json::exception& e) {
    throw Failure(NST_ERR_MODEL_INVALID, source + " has malformed nst.io metadata: " + e.what());
  }
  ModelInfo info;
  info.family = family;
  try {
    const json& inputs = io.at("inputs");
    const json& outputs = io.at("outputs");
    if (!inputs.is_array() || !outputs.is_array() || inputs.empty() || outputs.empty()) {
      throw Failure(NST_ERR_MODEL_INVALID, source + ": nst.io lists no inputs or outputs");
    }
    // Families with extra inputs (style weights, masks, a style image, noise) need a richer API.
    if (inputs.size() != 1 || !is_image_tensor(inputs[0]) || !is_image_tensor(outputs[0])) {
      throw Failure(NST_ERR_MODEL_UNSUPPORTED,
                    source + ": the C ABI runs single-image models; " + family + " has inputs " +
                        names_of(inputs));
    }
    info.input_name = inputs[0].at("name").get<std::string>();
    info.output_name = outputs[0].at("name").get<std::string>();
    info.min_size = io.value("min_size", 16);
    info.pad_multiple = io.value("pad_multiple", 4);
  } catch (const json::exception& e) {
    throw Failure(NST_ERR_MODEL_INVALID, source + " has malformed nst.io metadata: " + e.what());
  }
  if (info.min_size < 1) {
    throw Failure(NST_ERR_MODEL_INVALID, source + ": nst.io min_size must be >= 1");
  }
  return info;
}

}  // namespace nst::detail
