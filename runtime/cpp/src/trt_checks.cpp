// The TensorRT backend's pure checks (see trt_checks.hpp). No TensorRT or CUDA headers here.
#include "trt_checks.hpp"

#include <algorithm>
#include <cctype>
#include <limits>

#include "backend.hpp"

namespace nst::detail {

std::vector<int64_t> decode_trt_version(int32_t encoded) {
  if (encoded < 0) return {0, 0, 0};
  if (encoded >= 100000) return {encoded / 10000, encoded / 100 % 100, encoded % 100};
  return {encoded / 1000, encoded / 100 % 10, encoded % 100};  // TensorRT <= 9
}

std::vector<int64_t> parse_version(const std::string& text) {
  std::vector<int64_t> parts;
  size_t start = 0;
  while (true) {
    const size_t dot = std::min(text.find('.', start), text.size());
    int64_t value = 0;
    for (size_t i = start; i < dot; ++i) {
      const unsigned char c = static_cast<unsigned char>(text[i]);
      if (std::isdigit(c) && value < std::numeric_limits<int64_t>::max() / 100) {
        value = value * 10 + (c - '0');
      }
    }
    parts.push_back(value);
    if (dot == text.size()) break;
    start = dot + 1;
  }
  return parts;
}

std::string format_version(const std::vector<int64_t>& parts) {
  std::string text;
  for (const int64_t p : parts) text += (text.empty() ? "" : ".") + std::to_string(p);
  return text;
}

std::string format_shape(const std::vector<int64_t>& dims) {
  std::string text;
  for (const int64_t d : dims) text += (text.empty() ? "" : ", ") + std::to_string(d);
  return "(" + text + ")";
}

size_t tensor_elements(const std::vector<int64_t>& dims, const std::string& name) {
  if (dims.empty()) {
    throw Failure(NST_ERR_INFERENCE, "TensorRT reports no shape for tensor '" + name + "'");
  }
  size_t count = 1;
  for (const int64_t d : dims) {
    if (d < 0) {
      throw Failure(NST_ERR_INFERENCE, "TensorRT cannot resolve the shape of tensor '" + name +
                                           "': " + format_shape(dims));
    }
    const size_t n = static_cast<size_t>(d);
    if (n != 0 && count > std::numeric_limits<size_t>::max() / sizeof(float) / n) {
      throw Failure(NST_ERR_OUT_OF_MEMORY,
                    "tensor '" + name + "' of shape " + format_shape(dims) + " is too large");
    }
    count *= n;
  }
  return count;
}

void check_output_shape(const std::vector<int64_t>& output, int32_t height, int32_t width,
                        const std::string& name) {
  const std::vector<int64_t> input{1, 3, height, width};
  if (output != input) {
    throw Failure(NST_ERR_MODEL_UNSUPPORTED,
                  "the engine's output '" + name + "' is " + format_shape(output) + " for a " +
                      format_shape(input) +
                      " input: the C ABI writes images of the input's size (super-resolution "
                      "models run with `nst upscale MODEL.onnx`)");
  }
}

}  // namespace nst::detail
