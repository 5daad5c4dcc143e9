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
    if (inputs.size() != 1 || !is_image_tensor(inputs[0])) {
      throw Failure(NST_ERR_MODEL_UNSUPPORTED,
                    source + ": the C ABI runs single-image models; " + family + " has inputs " +
                        names_of(inputs));
    }
    if (!is_image_tensor(outputs[0])) {
      throw Failure(NST_ERR_MODEL_UNSUPPORTED,
                    source + ": the C ABI reads a float32 (N, 3, H, W) image; " + family +
                        " output " + outputs[0].dump());
    }
    info.input_name = inputs[0].at("name").get<std::string>();
    info.output_name = outputs[0].at("name").get<std::string>();
    // nst_stylize writes an image of the input's size: an output with its own spatial axes
    // (sr: "out_height", "out_width", 4x or 8x larger) would not fit the caller's buffer.
    const json& in_shape = inputs[0].at("shape");
    const json& out_shape = outputs[0].at("shape");
    if (out_shape[2] != in_shape[2] || out_shape[3] != in_shape[3]) {
      throw Failure(NST_ERR_MODEL_UNSUPPORTED,
                    source + ": the C ABI writes images of the input's size; " + family +
                        " output " + info.output_name + " has axes " + out_shape.dump() +
                        " for input axes " + in_shape.dump() +
                        " (super-resolution models run with `nst upscale MODEL.onnx`)");
    }
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
