// Internal: the backend interface behind the C ABI, the model's I/O contract and the error type.
//
// Mirrors the Python runtime (runtime/base.py): the C ABI checks arguments and sizes once, and
// each backend (ONNX Runtime, TensorRT) only runs an already-checked float NCHW batch of one.
#ifndef NST_SRC_BACKEND_HPP
#define NST_SRC_BACKEND_HPP

#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "nst/nst.h"

namespace nst::detail {

/** Every failure inside libnst: a status for the C ABI and a one-line message. */
class Failure : public std::runtime_error {
 public:
  Failure(nst_status code, const std::string& message)
      : std::runtime_error(message), status(code) {}
  nst_status status;
};

/** What the C ABI needs from a model's `nst.io` metadata (the Python ExportSpec). */
struct ModelInfo {
  std::string family;
  std::string input_name;   // the single image input, float32 [N, 3, H, W] in [0, 1]
  std::string output_name;  // the stylized image, same shape
  int32_t min_size = 16;
  int32_t pad_multiple = 4;
  int32_t max_height = 0;  // 0: no limit (ONNX Runtime); a TensorRT profile's maximum otherwise
  int32_t max_width = 0;
};

/**
 * Parse the `nst.family` and `nst.io` metadata values (ExportSpec JSON) of `source`.
 *
 * Throws Failure(NST_ERR_MODEL_INVALID) for malformed JSON, and
 * Failure(NST_ERR_MODEL_UNSUPPORTED) for families with inputs other than one image.
 */
ModelInfo parse_model_info(const std::string& family, const std::string& io_json,
                           const std::string& source);

/** One loaded model on one backend. */
class Backend {
 public:
  virtual ~Backend() = default;
  const ModelInfo& info() const { return info_; }
  /** (1, 3, height, width) float32 in [0, 1] -> same shape, into `output`. */
  virtual void run(const float* input, float* output, int32_t height, int32_t width) = 0;

 protected:
  ModelInfo info_;
};

std::unique_ptr<Backend> make_ort_backend(const std::string& path, const nst_options& options);
#ifdef NST_WITH_TENSORRT
std::unique_ptr<Backend> make_trt_backend(const std::string& path, const nst_options& options);
#endif

}  // namespace nst::detail

#endif  // NST_SRC_BACKEND_HPP
